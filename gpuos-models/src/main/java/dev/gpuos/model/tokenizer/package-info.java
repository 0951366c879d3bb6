/**
 * A pure-Java reader of Hugging Face {@code tokenizer.json}: the tokenizers library's pipeline (added tokens,
 * normalizer, pre-tokenizer, model, post-processor, decoder) for WordPiece (BERT) and byte-level BPE (GPT-2,
 * Llama 3), giving the same ids as the Rust library (checked on the committed fixtures).
 */
package dev.gpuos.model.tokenizer;
