package dev.tp4j.io;

import static dev.tp4j.io.MessageText.abbreviated;
import static dev.tp4j.io.MessageText.quoted;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tp4j.BadInputException;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses a safetensors JSON header and checks it against the data section that follows it, so that
 * every later read can trust the offsets. Each problem becomes a {@link BadInputException} whose one
 * line names the file, the tensor and what is wrong with it.
 *
 * <p>Where the reference implementation is stricter than it needs to be to read a file safely, this
 * one is lenient: gaps between tensors and trailing bytes after the last one are accepted. Overlaps,
 * offsets outside the data section and sizes that disagree with shape × dtype are not.
 */
final class SafetensorsHeader {
    static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsHeader(Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Tensors in header order. */
    Map<String, TensorInfo> tensors() {
        return tensors;
    }

    Map<String, String> metadata() {
        return metadata;
    }

    /**
     * @param file       the file's name as the user gave it, for messages
     * @param json       the header bytes (UTF-8 JSON, possibly padded with trailing spaces)
     * @param dataStart  file offset of the data section (8 + header length)
     * @param fileBytes  the file's length
     */
    static SafetensorsHeader parse(String file, byte[] json, long dataStart, long fileBytes) {
        JsonNode root = parseJson(file, json);
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                tensors.put(field.getKey(), parseEntry(file, field.getKey(), field.getValue()));
            }
        }
        checkLayout(file, tensors.values(), dataStart, fileBytes);
        return new SafetensorsHeader(tensors, metadata);
    }

    private static JsonNode parseJson(String file, byte[] json) {
        int malformed = firstMalformedUtf8(json);
        if (malformed >= 0) {
            // Jackson reports a bad UTF-8 byte "at byte -1"; the offset is what finds it in a hex dump.
            throw new BadInputException(String.format(java.util.Locale.ROOT,
                    "%s: header is not valid UTF-8: byte 0x%02X at byte %d of the header (byte %d of the file)",
                    file, json[malformed] & 0xFF, malformed, 8L + malformed));
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            long at = e.getLocation() == null ? -1 : e.getLocation().getByteOffset();
            String where = at < 0 ? "" : " (at byte " + at + " of the header)";
            throw new BadInputException(file + ": header is not valid JSON: "
                    + abbreviated(withoutParserInternals(String.valueOf(e.getOriginalMessage()))) + where, e);
        } catch (java.io.IOException e) {
            throw new BadInputException(file + ": header cannot be read as JSON: " + e.getMessage(), e);
        }
        if (root == null || root.isMissingNode()) {
            throw new BadInputException(file + ": header is empty, expected a JSON object");
        }
        if (!root.isObject()) {
            throw new BadInputException(file + ": header is a JSON " + root.getNodeType().name().toLowerCase(java.util.Locale.ROOT)
                    + ", not a JSON object");
        }
        return root;
    }

    /** The offset of the first byte that does not belong to well-formed UTF-8, or -1 when all do. */
    static int firstMalformedUtf8(byte[] bytes) {
        java.nio.charset.CharsetDecoder decoder = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(Math.min(bytes.length, 8192) + 1);
        while (true) {
            java.nio.charset.CoderResult r = decoder.decode(in, out, true);
            if (r.isError()) {
                return in.position();
            }
            if (r.isOverflow()) {
                out.clear(); // only the bytes are checked; the text is Jackson's to read
                continue;
            }
            r = decoder.flush(out);
            if (r.isOverflow()) {
                out.clear();
                decoder.flush(out);
            }
            return -1;
        }
    }

    /** Jackson's messages end with details about its own input source and binding; users need the first part. */
    private static String withoutParserInternals(String message) {
        String shortened = message;
        for (String internals : new String[] {" (start marker at", " (bound as", "\n at [Source"}) {
            int at = shortened.indexOf(internals);
            if (at >= 0) {
                shortened = shortened.substring(0, at);
            }
        }
        return shortened;
    }

    private static Map<String, String> parseMetadata(String file, JsonNode node) {
        if (!node.isObject()) {
            throw new BadInputException(file + ": " + METADATA_KEY + " must be a JSON object of strings, got "
                    + abbreviated(node.toString()));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : node.properties()) {
            if (!entry.getValue().isTextual()) {
                throw new BadInputException(file + ": " + METADATA_KEY + " value of " + quoted(entry.getKey())
                        + " must be a string, got " + abbreviated(entry.getValue().toString()));
            }
            metadata.put(entry.getKey(), entry.getValue().textValue());
        }
        return metadata;
    }

    private static TensorInfo parseEntry(String file, String name, JsonNode entry) {
        String where = file + ": tensor " + quoted(name);
        if (!entry.isObject()) {
            throw new BadInputException(where + ": entry must be a JSON object with dtype, shape and data_offsets, got "
                    + abbreviated(entry.toString()));
        }
        DType dtype = parseDtype(where, required(where, entry, "dtype"));
        Shape shape = parseShape(where, required(where, entry, "shape"));
        long[] offsets = parseOffsets(where, required(where, entry, "data_offsets"));
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw new BadInputException(where + ": data_offsets [" + begin + ", " + end + "]: begin is after end");
        }
        long needed = Math.multiplyExact(shape.numel(), (long) dtype.byteSize());
        if (end - begin != needed) {
            throw new BadInputException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes, but shape " + shape + " of " + dtype + " needs " + needed);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonNode required(String where, JsonNode entry, String field) {
        JsonNode value = entry.get(field);
        if (value == null || value.isNull()) {
            throw new BadInputException(where + ": entry has no \"" + field + "\"");
        }
        return value;
    }

    private static DType parseDtype(String where, JsonNode node) {
        if (!node.isTextual()) {
            throw new BadInputException(where + ": \"dtype\" must be a string such as \"F32\", got "
                    + abbreviated(node.toString()));
        }
        String name = node.textValue();
        DType dtype = DType.fromSafetensorsName(name);
        // fromSafetensorsName ignores case; the format does not, so "f32" is as unknown as "Q4".
        if (dtype == null || !dtype.safetensorsName().equals(name)) {
            throw new BadInputException(where + ": unknown dtype \"" + abbreviated(name)
                    + "\" (tp4j reads F32, F16, BF16 and F64)");
        }
        return dtype;
    }

    private static Shape parseShape(String where, JsonNode node) {
        if (!node.isArray()) {
            throw new BadInputException(where + ": \"shape\" must be an array of non-negative integers, got "
                    + abbreviated(node.toString()));
        }
        long[] dims = new long[node.size()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = nonNegativeLong(node.get(i));
            if (dims[i] < 0) {
                throw new BadInputException(where + ": \"shape\" must be an array of non-negative integers, got "
                        + abbreviated(node.toString()));
            }
        }
        Shape shape = Shape.of(dims);
        try {
            Math.multiplyExact(shape.numel(), 8L);
        } catch (ArithmeticException e) {
            throw new BadInputException(where + ": \"shape\" " + shape + " has more elements than a file can hold");
        }
        return shape;
    }

    private static long[] parseOffsets(String where, JsonNode node) {
        long begin = node.isArray() && node.size() == 2 ? nonNegativeLong(node.get(0)) : -1;
        long end = node.isArray() && node.size() == 2 ? nonNegativeLong(node.get(1)) : -1;
        if (begin < 0 || end < 0) {
            throw new BadInputException(where + ": \"data_offsets\" must be [begin, end] with non-negative integers, got "
                    + abbreviated(node.toString()));
        }
        return new long[] {begin, end};
    }

    /** The node's value when it is an integer in [0, Long.MAX_VALUE]; -1 otherwise. */
    private static long nonNegativeLong(JsonNode node) {
        if (node == null || !node.isIntegralNumber() || !node.canConvertToLong()) {
            return -1;
        }
        long value = node.longValue();
        return value < 0 ? -1 : value;
    }

    /**
     * Checks that the tensors' byte ranges are disjoint and inside the data section. When they run past
     * its end, a layout with no gaps (what every writer produces) means the file was cut short; a layout
     * with gaps means the offsets themselves are wrong, and the message says which.
     */
    private static void checkLayout(String file, Iterable<TensorInfo> tensors, long dataStart, long fileBytes) {
        long dataBytes = fileBytes - dataStart;
        List<TensorInfo> byBegin = new ArrayList<>();
        for (TensorInfo t : tensors) {
            byBegin.add(t);
        }
        byBegin.sort(Comparator.comparingLong(TensorInfo::dataBegin).thenComparingLong(TensorInfo::dataEnd));

        TensorInfo furthest = null;
        boolean noGaps = true;
        long expectedBegin = 0;
        for (TensorInfo t : byBegin) {
            if (t.byteSize() == 0) {
                continue; // an empty tensor occupies no bytes and cannot overlap anything
            }
            if (furthest != null && t.dataBegin() < furthest.dataEnd()) {
                throw new BadInputException(file + ": tensors " + quoted(furthest.name()) + " " + range(furthest)
                        + " and " + quoted(t.name()) + " " + range(t) + " overlap in the data section");
            }
            noGaps &= t.dataBegin() == expectedBegin;
            expectedBegin = t.dataEnd();
            furthest = t;
        }

        long needed = 0;
        for (TensorInfo t : byBegin) {
            needed = Math.max(needed, t.dataEnd());
        }
        if (needed <= dataBytes) {
            return;
        }
        if (noGaps) {
            throw new BadInputException(file + ": truncated: the data section holds " + dataBytes
                    + " bytes but the tensors need " + needed + " (the file is " + fileBytes
                    + " bytes, expected " + (dataStart + needed) + ")");
        }
        for (TensorInfo t : byBegin) {
            if (t.dataEnd() > dataBytes) {
                throw new BadInputException(file + ": tensor " + quoted(t.name()) + ": data_offsets " + range(t)
                        + " out of range of the " + dataBytes + "-byte data section");
            }
        }
    }

    private static String range(TensorInfo t) {
        return "[" + t.dataBegin() + ", " + t.dataEnd() + "]";
    }
}
