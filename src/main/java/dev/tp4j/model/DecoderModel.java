package dev.tp4j.model;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.nn.DecoderLayer;
import dev.tp4j.nn.KvCache;
import dev.tp4j.nn.MergedColumnParallelLinear;
import dev.tp4j.nn.ParallelAttention;
import dev.tp4j.nn.ParallelLmHead;
import dev.tp4j.nn.ParallelMlp;
import dev.tp4j.nn.RmsNorm;
import dev.tp4j.nn.RowParallelLinear;
import dev.tp4j.nn.VocabParallelEmbedding;
import dev.tp4j.nn.Workspace;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A Llama-family decoder (Llama, Mistral, Qwen2) on one rank, built from the parallel layers as vLLM's
 * {@code llama.py} builds it:
 * <pre>
 *   x = embed(ids)                          vocab-parallel: one all_reduce
 *   x = layer_i(x)  for every layer         attention and MLP: one all_reduce each
 *   logits = lm_head(rmsnorm(x))            vocab-parallel: gathered where needed
 * </pre>
 * with a KV cache per layer (this rank's kv heads) preallocated for the whole generation.
 */
public final class DecoderModel implements AutoCloseable {
    private static final String HIDDEN = "model.hidden";

    private final ModelConfig config;
    private final Backend backend;
    private final VocabParallelEmbedding embedding;
    private final List<DecoderLayer> layers;
    private final List<KvCache> caches;
    private final RmsNorm finalNorm;
    private final ParallelLmHead lmHead;
    private final long weightBytes;
    private final List<Tensor> weights;
    /** The layers' activation buffers, one set for all of them, and the residual stream. */
    private final Workspace workspace;
    private Tensor hidden;

    private DecoderModel(ModelConfig config, Backend backend, VocabParallelEmbedding embedding, List<DecoderLayer> layers,
                         List<KvCache> caches, RmsNorm finalNorm, ParallelLmHead lmHead, List<Tensor> weights,
                         long weightBytes, Workspace workspace) {
        this.config = config;
        this.workspace = workspace;
        this.backend = backend;
        this.embedding = embedding;
        this.layers = layers;
        this.caches = caches;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.weights = weights;
        this.weightBytes = weightBytes;
    }

    /**
     * Reads this rank's shard of every tensor of {@code dir} (only its bytes) and builds the model, with
     * KV caches for {@code capacity} positions.
     */
    public static DecoderModel load(ModelDirectory dir, ModelConfig config, Backend backend, Communicator comm,
                                    int capacity) {
        return load(dir, config, backend, comm, capacity, DType.F32);
    }

    /**
     * As above, with the weight matrices (projections, embedding, LM head) kept in {@code weights}, one of the
     * backend's {@link Backend#weightDTypes()} (a GPU rank: the checkpoint's BF16 or F16); norms' weights and
     * biases stay F32.
     */
    public static DecoderModel load(ModelDirectory dir, ModelConfig config, Backend backend, Communicator comm,
                                    int capacity, DType weights) {
        new DecoderLayout(config).check(dir);
        return new Loader(dir, config, backend, comm, weights).load(capacity);
    }

    /**
     * Runs the tokens {@code ids} at positions {@code [position, position + ids.length)} through the model,
     * their keys and values joining the caches; afterwards {@link #logits} and {@link #greedyNext} read the
     * final hidden states.
     */
    public void forward(int[] ids, int position) {
        ensureWorkspace(ids.length);
        embedding.forward(ids, hidden);
        for (int i = 0; i < layers.size(); i++) {
            layers.get(i).forward(hidden, position, caches.get(i));
        }
        finalNorm.forward(hidden, hidden);
    }

    /** The logits of every position of the last forward, {@code [tokens, vocab]}, on every rank. */
    public void logits(Tensor out) {
        lmHead.logits(hidden, out);
    }

    /** The logits of the last position of the last forward, {@code [1, vocab]}, on every rank. */
    public void lastLogits(Tensor out) {
        lmHead.logits(lastRow(), out);
    }

    /** The greedy next token after the last forward, the same on every rank (only the winners move). */
    public int greedyNext() {
        return lmHead.argmax(lastRow());
    }

    public ModelConfig config() {
        return config;
    }

    /** Bytes of the weights this rank holds (F32 on CPU ranks; matrices in their dtype on GPU ranks). */
    public long weightBytes() {
        return weightBytes;
    }

    /**
     * Bytes one decode step must read from memory on this rank, attending over {@code positions} positions:
     * every weight once, except the embedding table, of which the lookup reads one row (a head tied to the
     * table reads all of it, counted once), and the KV caches up to {@code positions}. What a weight-bound
     * step streams; the bound of a decode step is this over the memory bandwidth.
     */
    public long decodeBytesPerToken(int positions) {
        long bytes = weightBytes;
        if (!config.tieWordEmbeddings()) {
            Tensor table = embedding.weight();
            bytes -= table.byteSize() - table.byteSize() / Math.max(1, table.rows());
        }
        for (KvCache cache : caches) {
            bytes += cache.bytes(positions);
        }
        return bytes;
    }

    /** Bytes of this rank's KV caches. */
    public long cacheBytes() {
        return caches.stream().mapToLong(KvCache::bytes).sum();
    }

    private Tensor lastRow() {
        int last = hidden.rows() - 1;
        return hidden.slice((long) last * hidden.cols(), hidden.cols()).view(Shape.of(1, hidden.cols()));
    }

    private void ensureWorkspace(int tokens) {
        hidden = workspace.matrix(HIDDEN, tokens, config.hiddenSize());
    }

    @Override
    public void close() {
        layers.forEach(DecoderLayer::close);
        workspace.close();
        caches.forEach(KvCache::close);
        embedding.close();
        lmHead.close();
        weights.forEach(Tensor::close);
    }

    /** Reads one rank's shards: rows of column-parallel weights, columns of row-parallel ones. */
    private static final class Loader {
        private final ModelDirectory dir;
        private final ModelConfig config;
        private final Backend backend;
        private final Communicator comm;
        private final DType weights;
        private final List<Tensor> loaded = new ArrayList<>();
        private long bytes;

        Loader(ModelDirectory dir, ModelConfig config, Backend backend, Communicator comm, DType weights) {
            this.dir = dir;
            this.config = config;
            this.backend = backend;
            this.comm = comm;
            this.weights = weights;
        }

        DecoderModel load(int capacity) {
            List<DecoderLayer> layers = new ArrayList<>();
            List<KvCache> caches = new ArrayList<>();
            Workspace workspace = new Workspace(backend);
            try {
                int rank = comm.rank();
                int tp = comm.worldSize();
                HeadSharding heads = HeadSharding.of(config.numHeads(), config.numKvHeads(), tp, rank);
                Partition vocab = new Partition(config.vocabSize(), tp);
                Partition ffn = new Partition(config.intermediateSize(), tp);
                int d = config.headDim();
                float[] invFreq = RotaryFrequencies.asFloats(config);
                Tensor embedWeight = matrixRows(DecoderLayout.EMBED, vocab.offset(rank), vocab.count(rank));
                VocabParallelEmbedding embedding = new VocabParallelEmbedding(backend, comm, embedWeight,
                        config.vocabSize());
                for (int i = 0; i < config.numLayers(); i++) {
                    long q0 = (long) heads.firstQueryHead() * d;
                    long qn = (long) heads.queryHeads() * d;
                    long kv0 = (long) heads.firstKvHead() * d;
                    long kvn = (long) heads.kvHeads() * d;
                    RowParallelLinear o = new RowParallelLinear(backend, comm,
                            matrixColumns(DecoderLayout.layer(i, "self_attn.o_proj.weight"), q0, qn),
                            config.outputBias() ? whole(DecoderLayout.layer(i, "self_attn.o_proj.bias")) : null,
                            (long) config.numHeads() * d, true);
                    // q, k and v of this rank's heads stacked into one weight: one GEMM per token instead of three.
                    String q = DecoderLayout.layer(i, "self_attn.q_proj");
                    String k = DecoderLayout.layer(i, "self_attn.k_proj");
                    String v = DecoderLayout.layer(i, "self_attn.v_proj");
                    ParallelAttention attention = new ParallelAttention(backend,
                            stackedMatrix(new Rows(q, q0, qn), new Rows(k, kv0, kvn), new Rows(v, kv0, kvn)),
                            config.qkvBias() ? stackedBias(new Rows(q, q0, qn), new Rows(k, kv0, kvn),
                                    new Rows(v, kv0, kvn)) : null,
                            Math.toIntExact(qn), o, d, invFreq, workspace);
                    // gate and up likewise: one GEMM streams both.
                    String gate = DecoderLayout.layer(i, "mlp.gate_proj");
                    String up = DecoderLayout.layer(i, "mlp.up_proj");
                    Rows gateRows = new Rows(gate, ffn.offset(rank), ffn.count(rank));
                    Rows upRows = new Rows(up, ffn.offset(rank), ffn.count(rank));
                    ParallelMlp mlp = new ParallelMlp(backend,
                            new MergedColumnParallelLinear(backend, comm, stackedMatrix(gateRows, upRows),
                                    config.mlpBias() ? stackedBias(gateRows, upRows) : null,
                                    config.intermediateSize(), config.intermediateSize()),
                            new RowParallelLinear(backend, comm,
                                    matrixColumns(DecoderLayout.layer(i, "mlp.down_proj.weight"), ffn.offset(rank), ffn.count(rank)),
                                    config.mlpBias() ? whole(DecoderLayout.layer(i, "mlp.down_proj.bias")) : null,
                                    config.intermediateSize(), true),
                            Activation.SILU, workspace);
                    layers.add(new DecoderLayer(backend,
                            new RmsNorm(backend, whole(DecoderLayout.layer(i, "input_layernorm.weight")), config.rmsNormEps()),
                            attention,
                            new RmsNorm(backend, whole(DecoderLayout.layer(i, "post_attention_layernorm.weight")),
                                    config.rmsNormEps()),
                            mlp, workspace));
                    caches.add(new KvCache(backend, capacity, attention.kvWidth()));
                }
                RmsNorm finalNorm = new RmsNorm(backend, whole(DecoderLayout.FINAL_NORM), config.rmsNormEps());
                // Tied embeddings: the head's rows are the embedding's rows, the same block on each rank.
                Tensor headWeight = config.tieWordEmbeddings() ? embedWeight
                        : matrixRows(DecoderLayout.LM_HEAD, vocab.offset(rank), vocab.count(rank));
                ParallelLmHead head = new ParallelLmHead(backend, comm, headWeight, config.vocabSize());
                return new DecoderModel(config, backend, embedding, layers, caches, finalNorm, head, loaded, bytes,
                        workspace);
            } catch (RuntimeException e) {
                layers.forEach(DecoderLayer::close);
                workspace.close();
                caches.forEach(KvCache::close);
                loaded.forEach(Tensor::close);
                throw e;
            }
        }

        /** Rows {@code [first, first + count)} of the tensor {@code prefix + suffix}. */
        private record Rows(String prefix, long first, long count) {
        }

        /**
         * The rows of several tensors ({@code prefix + suffix} each) read one after the other into one tensor:
         * the stacked shard of a merged layer, each part decoded straight into its place.
         */
        private Tensor stackedMatrix(Rows... parts) {
            return keep(backend.adoptWeight(stackedOnHost(".weight", parts), weights));
        }

        /** As {@link #stackedMatrix}, for the parts' biases (kept in F32, as every bias is). */
        private Tensor stackedBias(Rows... parts) {
            return adopt(stackedOnHost(".bias", parts));
        }

        private Tensor stackedOnHost(String suffix, Rows... parts) {
            Shape first = dir.info(parts[0].prefix() + suffix).shape();
            long cols = first.rank() == 1 ? 1 : first.dim(1);
            long total = 0;
            for (Rows p : parts) {
                total += p.count();
            }
            Tensor host = Tensor.allocateHostUninitialized(first.rank() == 1 ? Shape.of(total) : Shape.of(total, cols),
                    DType.F32);
            try {
                long row = 0;
                for (Rows p : parts) {
                    String name = p.prefix() + suffix;
                    Tensor block = host.slice(row * cols, p.count() * cols);
                    dir.file(name).readRowsInto(name, p.first(),
                            first.rank() == 1 ? block : block.view(Shape.of(p.count(), cols)));
                    row += p.count();
                }
            } catch (RuntimeException | Error e) {
                host.close();
                throw e;
            }
            return host;
        }

        /** Rows of a weight matrix, kept in the model's weight dtype. */
        private Tensor matrixRows(String name, long first, long count) {
            return keep(backend.adoptWeight(dir.file(name).readRows(name, first, count), weights));
        }

        /** Columns of a weight matrix, kept in the model's weight dtype. */
        private Tensor matrixColumns(String name, long first, long count) {
            return keep(backend.adoptWeight(dir.file(name).readColumns(name, first, count), weights));
        }

        private Tensor rows(String name, long first, long count) {
            return adopt(dir.file(name).readRows(name, first, count));
        }

        private Tensor whole(String name) {
            return adopt(dir.file(name).read(name));
        }

        private Tensor adopt(Tensor host) {
            return keep(backend.adopt(host));
        }

        private Tensor keep(Tensor t) {
            loaded.add(t);
            bytes += t.byteSize();
            return t;
        }
    }
}
