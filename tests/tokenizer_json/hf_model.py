#!/usr/bin/env python3
"""A tiny random LLaMA for a tokenizer.json, saved by transformers, with its reference
perplexity and greedy continuation computed by transformers + tokenizers.

  hf_model.py TOKENIZER_DIR OUT

Writes OUT/model/ (config.json + model.safetensors, vocabulary = the tokenizer's), OUT/text.txt
and OUT/reference.json: {"ppl", "tokens", "prompt", "generated"} where the perplexity is
that of [BOS] + encode(text) cut to 128 tokens, scored in one window, and "generated" is
the prompt followed by the decoded greedy continuation of [BOS] + encode(prompt) (8 tokens,
stopping at BOS or EOS), as `e2llm perplexity` and `e2llm generate` print them.
"""
import json
import math
import os
import sys

import torch
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

TEXT = ("The context window of a language model is the number of tokens it reads at once. "
        "Position interpolation rescales the rotary angles so that a longer window maps onto the trained range. "
        "Ünïcödé, 日本語のテキスト, emoji 😀 and numbers 12345 are tokenized as well.\n\n"
        "A second paragraph follows, with tabs\tand  double spaces, to give the window enough tokens. "
        "It repeats a little: the context window, the context window, the context window.\n") * 3
PROMPT = "The context window"
WINDOW = 128


def main():
    tokenizer_dir, out = sys.argv[1], sys.argv[2]
    tok = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    tok.no_truncation()
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tok.get_vocab_size(with_added_tokens=True), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-5, bos_token_id=bos,
                         eos_token_id=eos, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # larger weights than the default init, so that logits differ clearly
        for p in model.parameters():
            p.mul_(3.0 if p.dim() > 1 else 1.0)
    model.save_pretrained(os.path.join(out, "model"), safe_serialization=True)
    with open(os.path.join(out, "text.txt"), "w", encoding="utf-8") as f:
        f.write(TEXT)

    ids = ([bos] + tok.encode(TEXT, add_special_tokens=False).ids)[:WINDOW]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="sum").item()
    prompt_ids = [bos] + tok.encode(PROMPT, add_special_tokens=False).ids
    with torch.no_grad():
        full = model.generate(torch.tensor([prompt_ids]), max_new_tokens=8, do_sample=False, eos_token_id=[bos, eos],
                              pad_token_id=eos)[0].tolist()
    new = full[len(prompt_ids):]
    # The continuation as part of the whole text, so the space its first token carries stays.
    head = tok.decode(prompt_ids[1:], skip_special_tokens=True)
    whole = tok.decode(prompt_ids[1:] + new, skip_special_tokens=True)
    continuation = whole[len(head):] if whole.startswith(head) else tok.decode(new, skip_special_tokens=True)
    reference = {"ppl": math.exp(nll / (len(ids) - 1)), "tokens": len(ids) - 1, "window": WINDOW, "prompt": PROMPT,
                 "generated": PROMPT + continuation, "new_ids": new}
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
