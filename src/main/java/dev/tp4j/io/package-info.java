/**
 * Safetensors files: {@link dev.tp4j.io.SafetensorsFile} validates a file's header and reads whole
 * tensors or one rank's shard of them (rows of a column-parallel weight, columns of a row-parallel
 * one, a slice of a bias) into host F32 tensors, mapping only the bytes it needs;
 * {@link dev.tp4j.io.SafetensorsWriter} writes tensors atomically (temporary file, then rename).
 * {@link dev.tp4j.io.Float16} and {@link dev.tp4j.io.BFloat16} convert half-precision elements.
 */
package dev.tp4j.io;
