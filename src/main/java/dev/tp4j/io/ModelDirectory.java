package dev.tp4j.io;

import static dev.tp4j.io.MessageText.quoted;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tp4j.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A Hugging Face model directory: {@code config.json}, the weights in one {@code model.safetensors} or
 * in shards listed by {@code model.safetensors.index.json}, and the optional
 * {@code generation_config.json} and {@code tokenizer.json}. Opening it validates every shard's header
 * and that every tensor the index names is in the file it names; no tensor data is read until a rank
 * asks for its own rows or columns of one ({@link #file(String)}).
 */
public final class ModelDirectory implements AutoCloseable {
    public static final String CONFIG = "config.json";
    public static final String GENERATION_CONFIG = "generation_config.json";
    public static final String TOKENIZER = "tokenizer.json";
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SUGGESTIONS = 3;

    private final Path dir;
    private final Map<String, SafetensorsFile> fileOfTensor;
    private final List<SafetensorsFile> files;

    private ModelDirectory(Path dir, Map<String, SafetensorsFile> fileOfTensor, List<SafetensorsFile> files) {
        this.dir = dir;
        this.fileOfTensor = fileOfTensor;
        this.files = files;
    }

    /**
     * Opens {@code dir}: its index (when there is one) and every weights file's header.
     *
     * @throws BadInputException not a directory, no config, no weights, an index naming a file that is not
     *                           there or a tensor its file does not hold, a malformed header
     */
    public static ModelDirectory open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new BadInputException("--model " + dir + ": not a directory"
                    + (Files.exists(dir) ? " (give the model's directory, not a file in it)" : ""));
        }
        if (!Files.isRegularFile(dir.resolve(CONFIG))) {
            throw new BadInputException("--model " + dir + ": no " + CONFIG + " (not a Hugging Face model directory?)");
        }
        Path index = dir.resolve(INDEX);
        if (Files.isRegularFile(index)) {
            return openSharded(dir, index);
        }
        Path single = dir.resolve(SINGLE_FILE);
        if (!Files.isRegularFile(single)) {
            throw new BadInputException("--model " + dir + ": neither " + SINGLE_FILE + " nor " + INDEX);
        }
        SafetensorsFile file = SafetensorsFile.open(single);
        Map<String, SafetensorsFile> map = new LinkedHashMap<>();
        for (String name : file.names()) {
            map.put(name, file);
        }
        return new ModelDirectory(dir, map, List.of(file));
    }

    private static ModelDirectory openSharded(Path dir, Path index) {
        JsonNode weightMap = readJson(index).path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) {
            throw new BadInputException(index + ": no \"weight_map\" object naming each tensor's file");
        }
        Map<String, SafetensorsFile> byFileName = new LinkedHashMap<>();
        Map<String, SafetensorsFile> map = new LinkedHashMap<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String fileName = e.getValue().asText("");
                SafetensorsFile file = byFileName.get(fileName);
                if (file == null) {
                    Path path = dir.resolve(fileName).normalize();
                    if (fileName.isEmpty() || !path.getParent().equals(dir.normalize()) || !Files.isRegularFile(path)) {
                        throw new BadInputException(index + " names " + quoted(fileName) + " for tensor "
                                + quoted(e.getKey()) + ", but " + dir.resolve(fileName) + " is not there");
                    }
                    file = SafetensorsFile.open(path);
                    byFileName.put(fileName, file);
                }
                if (!file.contains(e.getKey())) {
                    throw new BadInputException(index + " puts tensor " + quoted(e.getKey()) + " in " + fileName
                            + ", which does not hold it");
                }
                map.put(e.getKey(), file);
            }
        } catch (RuntimeException e) {
            byFileName.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new ModelDirectory(dir, map, new ArrayList<>(byFileName.values()));
    }

    /** Reads a JSON file of the directory; a malformed one is bad input naming it. */
    public static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": not found");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage());
        }
    }

    public Path dir() {
        return dir;
    }

    /** {@code config.json}, parsed. */
    public JsonNode config() {
        return readJson(dir.resolve(CONFIG));
    }

    /** {@code generation_config.json}, parsed, or null when the directory has none. */
    public JsonNode generationConfig() {
        Path p = dir.resolve(GENERATION_CONFIG);
        return Files.isRegularFile(p) ? readJson(p) : null;
    }

    /** {@code tokenizer.json}, or null when the directory has none. */
    public Path tokenizerFile() {
        Path p = dir.resolve(TOKENIZER);
        return Files.isRegularFile(p) ? p : null;
    }

    public boolean contains(String tensor) {
        return fileOfTensor.containsKey(tensor);
    }

    /** The header entry of {@code tensor}, whichever file holds it. */
    public TensorInfo info(String tensor) {
        return file(tensor).info(tensor);
    }

    /**
     * The file that holds {@code tensor}, to read a rank's rows or columns of it from.
     *
     * @throws BadInputException no weights file holds it; the message lists the nearest names
     */
    public SafetensorsFile file(String tensor) {
        SafetensorsFile f = fileOfTensor.get(tensor);
        if (f == null) {
            throw new BadInputException(dir + ": tensor " + quoted(tensor) + " is in no weights file; nearest: "
                    + NearestNames.nearest(tensor, fileOfTensor.keySet(), SUGGESTIONS).stream()
                    .map(MessageText::quoted).collect(Collectors.joining(", ")));
        }
        return f;
    }

    /** Stored bytes this process has read from the weights files so far. */
    public long bytesRead() {
        return files.stream().mapToLong(SafetensorsFile::bytesRead).sum();
    }

    /** Stored bytes of every tensor, what a single process holding the whole model would read. */
    public long totalBytes() {
        return fileOfTensor.entrySet().stream().mapToLong(e -> e.getValue().info(e.getKey()).byteSize()).sum();
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return dir + " (" + files.size() + " weights file" + (files.size() == 1 ? "" : "s") + ")";
    }
}
