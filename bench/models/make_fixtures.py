#!/usr/bin/env python3
"""Builds the Hugging Face reference fixtures that gpuos-models' tests check GPUOS against.

Runs where torch + transformers 5 + tokenizers (+ sentence-transformers, optional) are installed (the GPU
machine); everything is seeded, so a rerun gives the same files. It writes into --out:

  bert-tiny/              BertModel (2 layers, hidden 64, 4 heads, intermediate 128) with random weights, f32
                          safetensors, config.json, the trained WordPiece tokenizer.json
  llama-tiny/             LlamaForCausalLM (2 layers, hidden 64, 4 heads, 2 KV heads, intermediate 128,
                          rope_scaling llama3, tied embeddings), f32, the trained byte-level BPE tokenizer.json
  llama-tiny-untied-bf16/ another seed with tie_word_embeddings false (lm_head.weight stored), bf16
  tokenizer_cases.json    token ids from `tokenizers` of a few hundred strings, both tokenizers
  bert_reference.json     last_hidden_state and sentence embeddings (mean pooling + L2 normalisation, as
                          sentence-transformers), batch 1 and batched with padding
  llama_reference.json    prefill logits (f32) and a 32-token greedy continuation with HF's top-2 logit gap
                          at every step, for each Llama variant (bf16 variants: HF in f32 on the bf16 weights)
  versions.json           library versions the references came from

The references are computed on the CPU in float32 (deterministic; the tiny models need no GPU).

--full DIR additionally builds full-size random models (Llama-3.2-1B config, bf16; all-MiniLM-L6-v2 config, f32)
into DIR (never commit these) and times HF on CUDA: eager greedy generate of 128 tokens from a 32-token prompt,
BERT batch 1 x 16 tokens and 32 x 128 tokens; the timings go to --out/hf_timing.json.
"""
import argparse
import json
import os
import random
import sys
import time

import torch

SEED = 1234

WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BPE_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
# Llama 3's pre-tokenizer split (tokenizer.json of meta-llama/Llama-3.x)
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

WORDS = {
    "en": "the quick brown fox jumps over lazy dog model token tensor runtime kernel queue memory attention "
          "layer embedding sentence vector java python graph compile worker batch decode prefill cache "
          "learning network running runs ran jumping played playing unbelievable internationalization "
          "it's don't we're they've I'm you'll she'd".split(),
    "fr": "le la les été café crème brûlée naïve garçon déjà où français élève château noël forêt "
          "très après problème".split(),
    "de": "Straße Über schön Mädchen Größe Fußball Äpfel Öl müde grün".split(),
    "es": "niño mañana año señor canción corazón pingüino acción".split(),
    "ru": "привет мир модель данные язык Москва".split(),
    "el": "γειά σου κόσμε ΑΘΗΝΑ Σίσυφος".split(),
    "zh": ["我们", "模型", "中文", "你好", "世界", "数据", "学习"],
    "ja": ["こんにちは", "カタカナ", "東京", "日本語"],
    "ko": ["안녕하세요", "한국어", "서울"],
    "ar": ["مرحبا", "العالم"],
}
PUNCT = list(".,;:!?-—()[]{}\"'/\\@#$%^&*+=<>|~`…«»¿¡")
EMOJI = ["😀", "🚀", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "✨"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "   ", "\u00a0", "\u3000", "\n\n"]


def training_text(rng, n=3000):
    langs = list(WORDS)
    lines = []
    for _ in range(n):
        lang = rng.choice(langs)
        k = rng.randint(3, 12)
        parts = []
        for _ in range(k):
            r = rng.random()
            if r < 0.75:
                w = rng.choice(WORDS[lang] if rng.random() < 0.8 else WORDS[rng.choice(langs)])
                if rng.random() < 0.1:
                    w = w.capitalize()
                parts.append(w)
            elif r < 0.85:
                parts.append(str(rng.randint(0, 99999)))
            else:
                parts.append(rng.choice(PUNCT))
        lines.append(" ".join(parts))
    return lines


def test_strings(rng):
    fixed = [
        "", " ", "  ", "\n", "\t", "hello", "Hello world", "Hello, world!", "HELLO WORLD", "hello  world",
        "hello   world  ", "  leading and trailing  ", "tabs\tand\nnewlines\r\nand\r\rcarriage",
        "line1\n\n\nline4", "unbelievable internationalization", "it's don't we're they've I'm you'll she'd",
        "IT'S DON'T WE'RE", "'s 't 're", "numbers 1 12 123 1234 12345 123456 3.14159 -42 1e10 0x1F",
        "phone: +1 (555) 123-4567", "email@example.com https://example.com/path?q=1&r=2#frag",
        "café crème brûlée naïve garçon déjà", "CAFÉ CRÈME BRÛLÉE", "Straße Über schön Größe",
        "niño mañana año pingüino", "e\u0301 (e + combining acute) vs é", "Ａｂｃ１２３ fullwidth",
        "привет мир, Москва!", "ΑΘΗΝΑ Σίσυφος γειά σου κόσμε", "ΣΣΣ ΌΣΟΣ", "İstanbul ıi Iİ",
        "我们的模型很好。你好，世界！", "中文English混合mixed文本", "こんにちは、世界。カタカナ東京",
        "안녕하세요 한국어 서울", "مرحبا بالعالم", "emoji 😀🚀👍🏽 flags 🇫🇷 family 👨‍👩‍👧 heart ❤️",
        "✨sparkles✨", "zero\u200bwidth\u200djoiner", "nul\x00char bell\x07 del\x7f", "replacement \ufffd char",
        "nbsp\u00a0here and ideographic\u3000space", "…ellipsis «quotes» ¿qué? ¡sí!", "a—b–c-d",
        "((nested)) [[brackets]] {{braces}}", "$100 €50 £20 ¥1000 ₹5", "x^2 + y^2 = z^2; a<b>c|d~e`f",
        "don't stop!!!???...", "the [MASK] token [CLS] [SEP] [PAD] [UNK]", "text<|end_of_text|>more",
        "<|begin_of_text|>Hello<|eot_id|>", "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
        "a" * 150, "ab" * 60 + " end", "supercalifragilisticexpialidocious", "\n\n\n   \t\t  \n",
        "    four leading spaces", "trailing spaces    ", "x\n y\n  z", "word\r\nword", "🙂", "a🙂b",
        "日本語のテキスト、句読点。", "한국어　전각공백", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters", "𠀀𠀁 ext-B CJK", "ﬁ ligature ﬀ",
        "Ⅷ roman ② circled", "½ ¾ fractions", "ǅ titlecase ǈ", "K (Kelvin) Å (Angstrom)", "ſ long s 'ſ",
    ]
    pools = [w for ws in WORDS.values() for w in ws]
    gen = []
    for _ in range(260):
        k = rng.randint(1, 10)
        s = ""
        for j in range(k):
            r = rng.random()
            if r < 0.6:
                w = rng.choice(pools)
                if rng.random() < 0.15:
                    w = w.upper()
            elif r < 0.7:
                w = str(rng.randint(0, 10 ** rng.randint(1, 7)))
            elif r < 0.8:
                w = "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 3)))
            elif r < 0.88:
                w = rng.choice(EMOJI)
            else:
                w = chr(rng.choice([rng.randint(0x4E00, 0x9FFF), rng.randint(0xAC00, 0xD7A3),
                                    rng.randint(0x3040, 0x30FF), rng.randint(0x00C0, 0x024F),
                                    rng.randint(0x0400, 0x04FF)]))
            s += w
            if j < k - 1:
                s += rng.choice(SPACES) if rng.random() < 0.3 else " "
        gen.append(s)
    return fixed + gen


def train_wordpiece(lines):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers, processors, decoders
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    # all-MiniLM-L6-v2's tokenizer.json: BertNormalizer(clean_text, handle_chinese_chars, strip_accents=None,
    # lowercase) and BertPreTokenizer
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=WORDPIECE_SPECIALS, show_progress=False)
    tok.train_from_iterator(lines, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def train_bpe(lines):
    from tokenizers import Tokenizer, Regex, models, pre_tokenizers, trainers, processors, decoders
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=BPE_SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    tok.decoder = decoders.ByteLevel()
    # Llama 3 sets ignore_merges (a word that is itself in the vocabulary is taken whole); set it through the
    # JSON, which every tokenizers version reads
    spec = json.loads(tok.to_str())
    spec["model"]["ignore_merges"] = True
    return Tokenizer.from_str(json.dumps(spec))


def f32list(t):
    return [float("%.9g" % v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def randomize_(model, std_linear, std_embed, gen):
    """Replaces HF's init (zero biases, unit norms, std 0.02) by seeded values that exercise every term."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if "norm" in name.lower() and name.endswith("weight"):
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif "embed" in name or "lm_head" in name:
                p.copy_(std_embed * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(std_linear * torch.randn(p.shape, generator=gen))


def save_tokenizer(tok, folder, specials, extra_config):
    tok.save(os.path.join(folder, "tokenizer.json"))
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 128}
    cfg.update(extra_config)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def build_bert(out, wp, versions):
    from transformers import BertConfig, BertModel
    folder = os.path.join(out, "bert-tiny")
    os.makedirs(folder, exist_ok=True)
    cfg = BertConfig(vocab_size=wp.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=128, type_vocab_size=2, hidden_act="gelu",
                     layer_norm_eps=1e-12, pad_token_id=wp.token_to_id("[PAD]"))
    torch.manual_seed(SEED)
    model = BertModel(cfg)
    randomize_(model, 0.1, 0.5, torch.Generator().manual_seed(SEED + 1))
    model.eval()
    model.save_pretrained(folder)
    save_tokenizer(wp, folder, WORDPIECE_SPECIALS, {"do_lower_case": True, "unk_token": "[UNK]", "pad_token": "[PAD]",
                                                     "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"})
    # sentence-transformers' pooling config, as the all-MiniLM-L6-v2 folder has it
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 64, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=1)
    with open(os.path.join(folder, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
                  f, indent=1)

    sentences = ["The quick brown fox jumps over the lazy dog.",
                 "Bonjour, le café est très bon!",
                 "我们的模型很好。",
                 "GPUOS runs tensors on the GPU 🚀 (and on the CPU).",
                 "short",
                 "Straße über schön: naïve déjà-vu, 12345 numbers and punctuation?!"]
    pad = wp.token_to_id("[PAD]")

    def run(batch):
        encs = [wp.encode(s) for s in batch]
        t = max(len(e.ids) for e in encs)
        ids = torch.tensor([e.ids + [pad] * (t - len(e.ids)) for e in encs])
        mask = torch.tensor([[1] * len(e.ids) + [0] * (t - len(e.ids)) for e in encs])
        with torch.no_grad():
            h = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        emb = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return {"sentences": batch, "input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                "shape": list(h.shape), "last_hidden_state": f32list(h), "embeddings": f32list(emb)}, emb

    cases = []
    for s in sentences:
        case, _ = run([s])
        cases.append(case)
    batched, batched_emb = run(sentences)
    cases.append(batched)
    ref = {"model": "bert-tiny", "pooling": "mean+normalize", "cases": cases}
    try:  # cross-check the pooling against sentence-transformers itself
        from sentence_transformers import SentenceTransformer, models as st_models
        from transformers import PreTrainedTokenizerFast
        PreTrainedTokenizerFast(tokenizer_object=wp, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                sep_token="[SEP]", mask_token="[MASK]").save_pretrained(folder + "-st-tmp")
        model.save_pretrained(folder + "-st-tmp")
        tr = st_models.Transformer(folder + "-st-tmp")
        st = SentenceTransformer(modules=[tr, st_models.Pooling(64, "mean"), st_models.Normalize()], device="cpu")
        st_emb = torch.tensor(st.encode(sentences, convert_to_numpy=True, batch_size=len(sentences)))
        ref["sentence_transformers_max_abs_diff"] = float((st_emb - batched_emb).abs().max())
        ref["sentence_transformers_version"] = __import__("sentence_transformers").__version__
    except Exception as e:  # noqa: BLE001 - a missing or changed library only skips the cross-check
        ref["sentence_transformers_error"] = repr(e)[:300]
    finally:
        import shutil
        shutil.rmtree(folder + "-st-tmp", ignore_errors=True)
    print("bert: sentence-transformers cross-check:",
          ref.get("sentence_transformers_max_abs_diff", ref.get("sentence_transformers_error")))
    with open(os.path.join(out, "bert_reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))


def llama_config(vocab, bos, eos, tie, hidden=64, inter=128, layers=2, heads=4, kv=2, head_dim=16, max_pos=256,
                 theta=500000.0, factor=8.0, low=1.0, high=4.0, orig=64):
    import inspect
    from transformers import LlamaConfig
    rope = {"rope_type": "llama3", "factor": factor, "low_freq_factor": low, "high_freq_factor": high,
            "original_max_position_embeddings": orig}
    kw = dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
              num_attention_heads=heads, num_key_value_heads=kv, head_dim=head_dim, max_position_embeddings=max_pos,
              rms_norm_eps=1e-5, tie_word_embeddings=tie, bos_token_id=bos, eos_token_id=eos, hidden_act="silu",
              attention_bias=False, mlp_bias=False)
    if "rope_parameters" in inspect.signature(LlamaConfig.__init__).parameters:   # transformers 5
        kw["rope_parameters"] = dict(rope, rope_theta=theta)
    else:
        kw["rope_scaling"] = rope
        kw["rope_theta"] = theta
    return LlamaConfig(**kw)


def greedy(model, ids, steps):
    """Greedy decoding by full recomputation (no cache), so the reference has no cache logic to trust."""
    seq = list(ids)
    out, gaps = [], []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(input_ids=torch.tensor([seq])).logits[0, -1].to(torch.float32)
            top = torch.topk(logits, 2)
            out.append(int(top.indices[0]))
            gaps.append(float(top.values[0] - top.values[1]))
            seq.append(out[-1])
    return out, gaps


def build_llama(out, bpe):
    from transformers import LlamaForCausalLM
    bos, eos = bpe.token_to_id("<|begin_of_text|>"), bpe.token_to_id("<|end_of_text|>")
    prompt = "The quick brown fox jumps over the lazy dog. Bonjour le café 123"
    prompt_ids = bpe.encode(prompt).ids
    variants = []

    def make(name, tie, seed, dtype):
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        cfg = llama_config(bpe.get_vocab_size(), bos, eos, tie)
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg)
        randomize_(model, 0.1, 0.5, torch.Generator().manual_seed(seed + 1))
        model.eval()
        if dtype == torch.bfloat16:   # the reference runs f32 on exactly the weights the file holds
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(p.to(torch.bfloat16).to(torch.float32))
            rot = model.model.rotary_emb
            inv_freq = rot.inv_freq.clone()
            model.to(torch.bfloat16).save_pretrained(folder)
            model.to(torch.float32)
            # .to(bfloat16) also rounded the rotary buffer, which a from_pretrained model keeps in f32
            rot.inv_freq.copy_(inv_freq)
            if hasattr(rot, "original_inv_freq"):
                rot.original_inv_freq = inv_freq.clone()
        else:
            model.save_pretrained(folder)
        save_tokenizer(bpe, folder, BPE_SPECIALS, {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"})
        return model

    tied = make("llama-tiny", True, SEED + 10, torch.float32)
    # (a bf16 copy of llama-tiny would push the fixtures past 2 MB; the untied variant covers bf16 loading)
    for name, model in [("llama-tiny", tied), ("llama-tiny-untied-bf16", None)]:
        if name == "llama-tiny-untied-bf16":
            model = make(name, False, SEED + 20, torch.bfloat16)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt_ids])).logits[0].to(torch.float32)
        toks, gaps = greedy(model, prompt_ids, 32)
        rot = getattr(model.model, "rotary_emb", None)
        inv_freq = f32list(rot.inv_freq) if rot is not None and hasattr(rot, "inv_freq") else None
        v = {"dir": name, "prompt": prompt, "prompt_ids": prompt_ids, "vocab": logits.shape[-1],
             "prefill_logits_shape": list(logits.shape), "inv_freq": inv_freq,
             "greedy_tokens": toks, "top2_gap": gaps,
             "greedy_text": bpe.decode(toks, skip_special_tokens=False),
             "tie_word_embeddings": bool(model.config.tie_word_embeddings)}
        if name == "llama-tiny":
            v["prefill_logits"] = f32list(logits)
        else:   # the last position only, to keep the fixtures small
            v["prefill_logits_last"] = f32list(logits[-1])
        variants.append(v)
        print(f"llama {name}: greedy {toks[:8]}... min top-2 gap {min(gaps):.4g}")
    with open(os.path.join(out, "llama_reference.json"), "w") as f:
        json.dump({"variants": variants}, f, separators=(",", ":"))


def tokenizer_cases(out, wp, bpe, strings):
    cases = {"strings": strings,
             "wordpiece": [wp.encode(s).ids for s in strings],
             "wordpiece_no_special": [wp.encode(s, add_special_tokens=False).ids for s in strings],
             "bpe": [bpe.encode(s).ids for s in strings],
             "bpe_no_special": [bpe.encode(s, add_special_tokens=False).ids for s in strings]}
    cases["bpe_decoded"] = [bpe.decode(ids, skip_special_tokens=False) for ids in cases["bpe"]]
    cases["wordpiece_decoded"] = [wp.decode(ids) for ids in cases["wordpiece"]]
    with open(os.path.join(out, "tokenizer_cases.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False, separators=(",", ":"))


def hbm_copy(timing, dev):
    """The physical floor of batch-1 decode: every weight byte read once per token at the HBM copy rate."""
    weight_bytes = timing["llama_weight_bytes"]
    try:
        src = torch.empty(1 << 30, dtype=torch.uint8, device=dev)
        dst = torch.empty_like(src)
        for _ in range(3):
            dst.copy_(src)
        torch.cuda.synchronize()
        reps = 20
        t0 = time.time()
        for _ in range(reps):
            dst.copy_(src)
        torch.cuda.synchronize()
        copy_bw = 2 * src.numel() * reps / (time.time() - t0)   # bytes read + written per second
        timing["hbm_copy_bytes_per_s"] = copy_bw
        timing["llama_floor_ms_per_token"] = 1000 * weight_bytes / copy_bw
        print(f"HBM copy {copy_bw / 1e12:.2f} TB/s: {weight_bytes / 1e9:.3f} GB of weights, floor "
              f"{1000 * weight_bytes / copy_bw:.2f} ms/token")
        del src, dst
        torch.cuda.empty_cache()
    except Exception as e:  # noqa: BLE001 - the timing is a side note; keep the rest of the run
        timing["hbm_copy_error"] = repr(e)[:200]


def full_size(out, full_dir, wp, bpe, llama_only=False, bert_only=False):
    """Full-size random models for load and speed checks (never committed) and HF eager timings on CUDA.
    llama_only: only the Llama folder and the HBM copy rate (no HF generate timing, no BERT).
    bert_only: only the BERT (MiniLM-shape) folder, its HF eager timings and embeddings (no Llama)."""
    if bert_only:
        return full_bert(out, full_dir, wp, {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"},
                         "cuda" if torch.cuda.is_available() else "cpu", torch.Generator().manual_seed(SEED))
    from transformers import BertConfig, BertModel, LlamaForCausalLM
    timing = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"}
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(full_dir, exist_ok=True)

    # Llama-3.2-1B's config (meta-llama/Llama-3.2-1B config.json)
    cfg = llama_config(128256, 128000, 128001, True, hidden=2048, inter=8192, layers=16, heads=32, kv=8,
                       head_dim=64, max_pos=131072, theta=500000.0, factor=32.0, low=1.0, high=4.0, orig=8192)
    t0 = time.time()
    torch.manual_seed(SEED)
    with torch.device(dev):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.eval()
    folder = os.path.join(full_dir, "llama-3.2-1b-random")
    model.save_pretrained(folder)
    save_tokenizer(bpe, folder, BPE_SPECIALS, {})
    timing["llama_build_save_s"] = time.time() - t0
    print(f"llama folder built and saved in {timing['llama_build_save_s']:.1f} s")
    if llama_only:
        timing["llama_weight_bytes"] = sum(p.numel() * p.element_size() for p in model.parameters())
        del model
        if dev == "cuda":
            torch.cuda.empty_cache()
            hbm_copy(timing, dev)
        with open(os.path.join(out, "hf_timing.json"), "w") as f:
            json.dump(timing, f, indent=1)
        return
    gen = torch.Generator().manual_seed(SEED)
    prompt = torch.randint(0, bpe.get_vocab_size(), (1, 32), generator=gen).to(dev)
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=8, do_sample=False, min_new_tokens=8)   # warm-up
        if dev == "cuda":
            torch.cuda.synchronize()
        t0 = time.time()
        outp = model.generate(prompt, max_new_tokens=128, min_new_tokens=128, do_sample=False)
        if dev == "cuda":
            torch.cuda.synchronize()
        dt = time.time() - t0
    n = outp.shape[1] - 32
    timing["llama_eager_generate"] = {"new_tokens": int(n), "seconds": dt, "tokens_per_s": n / dt,
                                      "ms_per_token": 1000 * dt / n}
    timing["llama_prompt_ids"] = prompt[0].tolist()
    timing["llama_greedy_first16"] = outp[0, 32:48].tolist()
    with torch.no_grad():   # HF's top-2 logit gaps along that greedy path: where another implementation may differ
        g = model.generate(prompt, max_new_tokens=16, min_new_tokens=16, do_sample=False, output_scores=True,
                           return_dict_in_generate=True)
    top2 = [torch.topk(sc[0].float(), 2).values for sc in g.scores]
    timing["llama_greedy_first16_top2_gap"] = [float(v[0] - v[1]) for v in top2]
    print(f"HF eager generate (bf16, {dev}): {n / dt:.1f} tok/s, {1000 * dt / n:.2f} ms/token")
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    timing["llama_weight_bytes"] = weight_bytes
    del model
    if dev == "cuda":
        torch.cuda.empty_cache()
        hbm_copy(timing, dev)
    full_bert(out, full_dir, wp, timing, dev, gen)


def full_bert(out, full_dir, wp, timing, dev, gen):
    """The MiniLM-shape BERT folder, HF eager timings at 1 x 16 and 32 x 128 and HF's embeddings of the timed ids;
    writes hf_timing.json with what timing holds."""
    from transformers import BertConfig, BertModel
    os.makedirs(full_dir, exist_ok=True)
    bcfg = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                      intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                      layer_norm_eps=1e-12)
    torch.manual_seed(SEED)
    with torch.device(dev):
        bert = BertModel(bcfg)
    bert.eval()
    folder = os.path.join(full_dir, "minilm-l6-random")
    bert.save_pretrained(folder)
    save_tokenizer(wp, folder, WORDPIECE_SPECIALS, {})
    cls, sep = wp.token_to_id("[CLS]"), wp.token_to_id("[SEP]")
    for b, t in [(1, 16), (32, 128)]:
        ids = torch.randint(5, wp.get_vocab_size(), (b, t), generator=gen)
        ids[:, 0], ids[:, -1] = cls, sep
        ids = ids.to(dev)
        mask = torch.ones_like(ids)
        with torch.no_grad():   # the embeddings of these ids, sentence-transformers' pooling, for GPUOS to compare
            h = bert(input_ids=ids, attention_mask=mask).last_hidden_state.double()
            emb = torch.nn.functional.normalize(h.mean(dim=1), p=2, dim=1)
        timing[f"bert_{b}x{t}"] = {"ids": ids.tolist(), "embeddings": emb.float().cpu().tolist()}
        with torch.no_grad():
            for _ in range(5):
                bert(input_ids=ids, attention_mask=mask)
            if dev == "cuda":
                torch.cuda.synchronize()
            reps = 50
            t0 = time.time()
            for _ in range(reps):
                bert(input_ids=ids, attention_mask=mask)
            if dev == "cuda":
                torch.cuda.synchronize()
            ms = 1000 * (time.time() - t0) / reps
        timing[f"bert_eager_{b}x{t}_ms"] = ms
        print(f"HF eager BERT (MiniLM shape, f32, {dev}) batch {b} x {t}: {ms:.3f} ms")
    with open(os.path.join(out, "hf_timing.json"), "w") as f:
        json.dump(timing, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (the committed fixtures)")
    ap.add_argument("--full", metavar="DIR", help="also build full-size random models into DIR and time HF")
    ap.add_argument("--skip-tiny", action="store_true", help="with --full: only the full-size part")
    ap.add_argument("--llama-only", action="store_true", help="with --full: only the Llama folder and the HBM copy rate")
    ap.add_argument("--bert-only", action="store_true", help="with --full: only the BERT folder, its HF timings and embeddings")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(4)
    rng = random.Random(SEED)
    lines = training_text(rng)
    wp = train_wordpiece(lines)
    bpe = train_bpe(lines)
    import tokenizers
    import transformers
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__, "python": sys.version.split()[0], "seed": SEED}
    if not args.skip_tiny:
        strings = test_strings(random.Random(SEED + 2))
        tokenizer_cases(args.out, wp, bpe, strings)
        print(f"tokenizers: {len(strings)} strings, wordpiece vocab {wp.get_vocab_size()}, "
              f"bpe vocab {bpe.get_vocab_size()}")
        build_bert(args.out, wp, versions)
        build_llama(args.out, bpe)
        with open(os.path.join(args.out, "versions.json"), "w") as f:
            json.dump(versions, f, indent=1)
    if args.full:
        full_size(args.out, args.full, wp, bpe, args.llama_only, args.bert_only)
    total = 0
    for root, _, files in os.walk(args.out):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    print(f"wrote {args.out}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
