package dev.tp4j.task.generate;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.tp4j.BadInputException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model directory's {@code tokenizer.json} through Hugging Face's own tokenizers library (DJL's
 * binding, which bundles the native library and needs no network): the same ids and text as the
 * Python {@code tokenizers} a model was trained with. Special tokens (a BOS) are added as the
 * tokenizer's post-processor says, as {@code tokenizer(text)} does in transformers.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;

    private TextTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public static TextTokenizer open(Path tokenizerJson) {
        try {
            return new TextTokenizer(HuggingFaceTokenizer.newInstance(tokenizerJson, Map.of()));
        } catch (IOException | RuntimeException e) {
            throw new BadInputException(tokenizerJson + ": cannot load the tokenizer: " + e.getMessage());
        }
    }

    public int[] encode(String text) {
        Encoding encoding = tokenizer.encode(text);
        long[] ids = encoding.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** The text of {@code ids}, special tokens left out. */
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, true);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
