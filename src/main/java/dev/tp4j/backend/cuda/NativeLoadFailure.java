package dev.tp4j.backend.cuda;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns what JavaCPP throws when a binding's natives cannot be loaded into one line naming the missing
 * system library. JavaCPP reports a missing dependency of its JNI glue as an {@link UnsatisfiedLinkError}
 * whose cause says e.g. {@code libjnicudart.so: libcuda.so.1: cannot open shared object file}; once a
 * class failed to initialise, later uses throw {@link NoClassDefFoundError} /
 * {@link ExceptionInInitializerError}. None of these crash the JVM.
 */
public final class NativeLoadFailure {
    private static final Pattern MISSING = Pattern.compile("(lib[\\w.+-]+?\\.so(?:\\.\\d+)*): cannot open shared object file");
    private static final Pattern UNDEFINED = Pattern.compile("undefined symbol: (\\S+)");

    private NativeLoadFailure() {
    }

    /** The system library a load failure names as missing (e.g. {@code libcuda.so.1}), or null. */
    public static String missingLibrary(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String msg = t.getMessage();
            if (msg != null) {
                Matcher m = MISSING.matcher(msg);
                String found = null;
                while (m.find()) {
                    // The last library in the chain of messages is the one the loader gave up on.
                    found = m.group(1);
                }
                if (found != null && !found.startsWith("libjni")) {
                    return found;
                }
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }

    /** What a library is, for people who do not know the file names. */
    public static String role(String library) {
        if (library == null) {
            return "";
        }
        if (library.startsWith("libcuda.so")) {
            return "the NVIDIA driver's CUDA library";
        }
        if (library.startsWith("libcudart")) {
            return "the CUDA runtime";
        }
        if (library.startsWith("libcublasLt")) {
            return "cuBLASLt";
        }
        if (library.startsWith("libcublas")) {
            return "cuBLAS";
        }
        if (library.startsWith("libnccl")) {
            return "NCCL";
        }
        if (library.startsWith("libnvrtc")) {
            return "NVRTC, the CUDA run-time compiler";
        }
        return "a CUDA library";
    }

    /** One line: {@code "libcuda.so.1 (the NVIDIA driver's CUDA library) not found"} or the error's own text. */
    public static String describe(Throwable failure) {
        String lib = missingLibrary(failure);
        if (lib != null) {
            return lib + " (" + role(lib) + ") not found on the library path";
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String msg = t.getMessage();
            if (msg != null) {
                Matcher m = UNDEFINED.matcher(msg);
                if (m.find()) {
                    return "a CUDA library has the wrong version (undefined symbol " + m.group(1) + ")";
                }
            }
            if (t.getCause() == t) {
                break;
            }
        }
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage();
        return root.getClass().getSimpleName() + (msg == null ? "" : ": " + firstLine(msg));
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
