#!/usr/bin/env python3
"""Cosines of `gpuos embed --json` outputs against Hugging Face on the same model folder.

usage: embed_check.py MODEL_DIR FILE.json...

For each JSON (texts and GPUOS's embeddings), runs transformers' BertModel (f32, CUDA when present) on the texts
tokenized by `tokenizers` from the folder's tokenizer.json, with sentence-transformers' mean pooling and L2
normalisation, and prints the worst and mean cosine between GPUOS's vectors and HF's.
"""
import json
import sys

import torch
from tokenizers import Tokenizer
from transformers import BertModel


def main():
    folder, files = sys.argv[1], sys.argv[2:]
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = BertModel.from_pretrained(folder, torch_dtype=torch.float32).to(dev).eval()
    tok = Tokenizer.from_file(f"{folder}/tokenizer.json")
    for f in files:
        data = json.load(open(f))
        texts = [e["text"] for e in data["embeddings"]]
        ours = torch.tensor([e["embedding"] for e in data["embeddings"]], dtype=torch.float64)
        enc = tok.encode_batch(texts)
        t = max(len(e.ids) for e in enc)
        ids = torch.zeros(len(enc), t, dtype=torch.long)
        mask = torch.zeros(len(enc), t, dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, :len(e.ids)] = torch.tensor(e.ids)
            mask[i, :len(e.ids)] = 1
        with torch.no_grad():
            h = model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).last_hidden_state.double().cpu()
        m = mask.unsqueeze(-1).double()
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        ref = torch.nn.functional.normalize(mean, dim=1)
        cos = torch.nn.functional.cosine_similarity(ours, ref, dim=1)
        print(f"{f}: {len(texts)} texts of up to {t} tokens, cosine vs HF f32: worst {cos.min().item():.9f}, "
              f"mean {cos.mean().item():.9f}")


if __name__ == "__main__":
    main()
