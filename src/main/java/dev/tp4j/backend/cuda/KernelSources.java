package dev.tp4j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CUDA C sources of tp4j's kernels ({@code native/kernels/*.cu} in the repository, on the classpath
 * under {@code native/kernels/}). Pure Java: reading them needs no GPU, so CPU-only CI checks that they
 * are packaged and that they declare every kernel the backend launches.
 */
public final class KernelSources {
    /** The files, in the order they are concatenated into one NVRTC program. */
    public static final List<String> FILES = List.of("elementwise.cu", "casts.cu", "decoder.cu");

    private static final Pattern KERNEL = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(");
    private static volatile String combined;

    private KernelSources() {
    }

    /** One source file's text, from the classpath. */
    public static String read(String file) {
        String resource = "/native/kernels/" + file;
        try (InputStream in = KernelSources.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + resource + " is not on the classpath (build packaging)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + resource, e);
        }
    }

    /** All files as one compilation unit. */
    public static String combined() {
        String c = combined;
        if (c == null) {
            StringBuilder sb = new StringBuilder();
            for (String f : FILES) {
                sb.append("// ---- ").append(f).append('\n').append(read(f)).append('\n');
            }
            c = sb.toString();
            combined = c;
        }
        return c;
    }

    /** The {@code extern "C" __global__} kernel names declared in {@code source}, in order. */
    public static Set<String> declaredKernels(String source) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = KERNEL.matcher(source);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** Kernels in {@code launched} that no source declares (empty when all are there). */
    public static List<String> undeclared(Iterable<String> launched) {
        Set<String> declared = declaredKernels(combined());
        List<String> missing = new ArrayList<>();
        for (String k : launched) {
            if (!declared.contains(k)) {
                missing.add(k);
            }
        }
        return missing;
    }

    /** Hex SHA-256 of the combined source and {@code extra} (compiler options): the cache key. */
    public static String sha256(String extra) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(combined().getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(extra.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
