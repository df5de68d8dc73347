package dev.tp4j.backend.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which of the CUDA libraries tp4j needs are on this machine's library path, found by file name without
 * loading anything (for {@code tp4j info}: JavaCPP stops at the first library it cannot load, this lists
 * them all). A hint, not a guarantee: the dynamic loader has the last word.
 */
public final class SystemLibraries {
    private SystemLibraries() {
    }

    /** The sonames the bindings of CUDA {@code major} load, in the order they are needed. */
    public static List<String> required(int major) {
        return List.of("libcuda.so.1", "libcudart.so." + major, "libcublas.so." + major, "libcublasLt.so." + major,
                "libnvrtc.so." + major, "libnccl.so.2");
    }

    /** The CUDA major version of the bindings on the classpath (13 unless they say otherwise). */
    public static int bindingsMajor() {
        try {
            Class<?> c = Class.forName("org.bytedeco.cuda.global.cudart", false, SystemLibraries.class.getClassLoader());
            Package p = c.getPackage();
            String v = p == null ? null : p.getImplementationVersion();
            if (v != null && v.matches("\\d+\\..*")) {
                return Integer.parseInt(v.substring(0, v.indexOf('.')));
            }
        } catch (ClassNotFoundException | LinkageError | NumberFormatException e) {
            // fall through
        }
        return 13;
    }

    /** Each required library and the directory it was found in (null when not found). */
    public static Map<String, Path> locate(List<String> names, List<Path> dirs) {
        Map<String, Path> found = new LinkedHashMap<>();
        for (String n : names) {
            Path where = null;
            for (Path d : dirs) {
                if (Files.exists(d.resolve(n))) {
                    where = d;
                    break;
                }
            }
            found.put(n, where);
        }
        return found;
    }

    /** LD_LIBRARY_PATH, the ld.so.conf directories, then the system defaults. */
    public static List<Path> searchPath(String ldLibraryPath, Path ldSoConf) {
        Set<Path> dirs = new LinkedHashSet<>();
        if (ldLibraryPath != null) {
            for (String d : ldLibraryPath.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        readConf(ldSoConf, dirs, 0);
        for (String d : new String[] {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                "/lib", "/usr/lib", "/usr/local/cuda/lib64", "/usr/local/cuda/lib"}) {
            dirs.add(Path.of(d));
        }
        return new ArrayList<>(dirs);
    }

    public static List<Path> searchPath() {
        return searchPath(System.getenv("LD_LIBRARY_PATH"), Path.of("/etc/ld.so.conf"));
    }

    private static void readConf(Path conf, Set<Path> dirs, int depth) {
        if (depth > 4 || !Files.isRegularFile(conf)) {
            return;
        }
        try {
            for (String line : Files.readAllLines(conf)) {
                String l = line.strip();
                if (l.isEmpty() || l.startsWith("#")) {
                    continue;
                }
                if (l.startsWith("include ")) {
                    includeGlob(conf.getParent(), l.substring(8).strip(), dirs, depth);
                } else {
                    dirs.add(Path.of(l));
                }
            }
        } catch (IOException | RuntimeException e) {
            // unreadable configuration: the defaults still apply
        }
    }

    private static void includeGlob(Path base, String pattern, Set<Path> dirs, int depth) {
        Path p = base.resolve(pattern);
        Path dir = p.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return;
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p.getFileName().toString())) {
            ds.forEach(files::add);
        } catch (IOException | RuntimeException e) {
            return;
        }
        files.sort(null);
        for (Path f : files) {
            readConf(f, dirs, depth + 1);
        }
    }
}
