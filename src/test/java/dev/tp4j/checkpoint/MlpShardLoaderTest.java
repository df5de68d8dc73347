package dev.tp4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.backend.Activation;
import dev.tp4j.nn.ParallelMlp;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testing.InMemoryGroup;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Block-wise loading gives exactly the shard a single read gives, and reports every stored byte once. */
class MlpShardLoaderTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "tp={0} block={1} B {2}")
    @CsvSource({"1, 40, F32", "2, 64, BF16", "3, 1, F16", "4, 1000000, F32"})
    void blocksAddUpToTheShard(int tp, long blockBytes, DType dtype) throws Exception {
        int hidden = 13;
        int ffn = 29;
        Path file = dir.resolve("m.safetensors");
        new SafetensorsWriter()
                .add("up.weight", counting(Shape.of(ffn, hidden), 0), dtype)
                .add("up.bias", counting(Shape.of(ffn), 1000), dtype)
                .add("down.weight", counting(Shape.of(hidden, ffn), 2000), dtype)
                .add("down.bias", counting(Shape.of(hidden), 3000), dtype)
                .write(file);
        List<Void> done = InMemoryGroup.run(tp, comm -> {
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                MlpLayout layout = MlpLayout.inspect(f, "up", null, "down");
                AtomicLong advanced = new AtomicLong();
                AtomicLong announced = new AtomicLong();
                LoadListener listener = new LoadListener() {
                    @Override
                    public void started(long totalBytes) {
                        announced.set(totalBytes);
                    }

                    @Override
                    public void advanced(long bytes) {
                        advanced.addAndGet(bytes);
                    }
                };
                ParallelMlp mlp = MlpShardLoader.load(f, blockBytes, layout, Activation.RELU, new CpuBackend(1), comm,
                        listener);
                long readByLoader = f.bytesRead();
                try (Tensor up = f.readRowShard("up.weight", comm.rank(), tp);
                     Tensor down = f.readColumnShard("down.weight", comm.rank(), tp)) {
                    assertArrayEquals(up.toFloatArray(), mlp.upWeight().toFloatArray(), "rank " + comm.rank());
                    assertArrayEquals(down.toFloatArray(), mlp.downWeight().toFloatArray(), "rank " + comm.rank());
                }
                long shard = MlpShardLoader.shardBytes(layout, comm.rank(), tp);
                assertEquals(shard, announced.get());
                assertEquals(shard, advanced.get());
                assertEquals(shard, readByLoader, "each byte of the shard read once, nothing else");
            }
            return null;
        });
        assertEquals(tp, done.size());
    }

    /** Small integers, exact in every dtype, so any misplaced element shows. */
    private static Tensor counting(Shape shape, int first) {
        float[] v = new float[(int) shape.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (first + i) % 200;
        }
        return Tensor.hostOf(shape, v);
    }
}
