/**
 * Hugging Face model folders on the tensor API: {@link dev.gpuos.model.SafetensorsFile} (memory-mapped weights),
 * config readers ({@link dev.gpuos.model.BertConfig}, {@link dev.gpuos.model.LlamaConfig}), and the models
 * ({@link dev.gpuos.model.BertEncoder} for sentence embeddings, {@link dev.gpuos.model.LlamaModel} for decoding).
 * Every model is written with ordinary {@code dev.gpuos.tensor} ops, so it runs on any backend; bad input throws
 * {@link dev.gpuos.model.ModelFormatException} naming the file and the field.
 */
package dev.gpuos.model;
