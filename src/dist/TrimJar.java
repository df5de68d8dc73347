import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * {@code java TrimJar.java JAR GLOB...}: rewrites JAR without the entries whose names match a glob (as
 * {@code FileSystem.getPathMatcher("glob:...")} reads it; {@code *} stays within a directory, {@code **}
 * crosses them). Every other entry is copied with its name, time and comment. Prints what it left out.
 * Run by make-dist.sh (a JDK's {@code java} runs a single source file directly); no dependencies.
 */
public final class TrimJar {
    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: java TrimJar.java JAR GLOB...");
            System.exit(2);
        }
        Path jar = Path.of(args[0]);
        List<PathMatcher> drop = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            drop.add(FileSystems.getDefault().getPathMatcher("glob:" + args[i]));
        }
        Path tmp = jar.resolveSibling(jar.getFileName() + ".trim");
        long dropped = 0;
        int count = 0;
        try (ZipFile in = new ZipFile(jar.toFile());
             ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(tmp))) {
            for (Enumeration<? extends ZipEntry> e = in.entries(); e.hasMoreElements(); ) {
                ZipEntry entry = e.nextElement();
                String name = entry.getName();
                if (!name.endsWith("/") && drop.stream().anyMatch(m -> m.matches(Path.of(name)))) {
                    dropped += entry.getCompressedSize();
                    count++;
                    if (entry.getSize() >= 1 << 20) {
                        System.out.println("  left out " + name + " (" + (entry.getSize() >> 20) + " MiB)");
                    }
                    continue;
                }
                ZipEntry copy = new ZipEntry(name);
                copy.setTime(entry.getTime());
                copy.setComment(entry.getComment());
                copy.setExtra(entry.getExtra());
                out.putNextEntry(copy);
                try (InputStream data = in.getInputStream(entry)) {
                    data.transferTo(out);
                }
                out.closeEntry();
            }
        }
        if (count == 0) {
            Files.delete(tmp);
            System.err.println("TrimJar: nothing in " + jar + " matched " + String.join(" ", drop.size() + " glob(s)")
                    + ": the jar's layout changed; update make-dist.sh");
            System.exit(1);
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING);
        System.out.printf("  %s: %d entries left out, %.1f MB smaller%n", jar.getFileName(), count, dropped / 1e6);
    }
}
