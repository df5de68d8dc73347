package dev.tp4j.task.generate;

import dev.tp4j.backend.DTypeChoice;
import java.nio.file.Path;

/**
 * What {@code tp4j generate} was asked to do.
 *
 * @param promptIds   the prompt as token ids, or null when {@code promptText} is given
 * @param promptText  the prompt as text (needs the model's tokenizer.json), or null
 * @param temperature null for greedy decoding; otherwise sampling with {@code topK} (0 = off), {@code topP}
 *                    (1 = off) and {@code seed} (null = a fresh one)
 * @param logits      where rank 0 writes the prompt's logits, or null
 * @param json        where rank 0 writes the report, or null
 * @param measureBandwidth whether every rank also measures its memory bandwidth, for the decode's bound
 * @param dtype       the weight matrices' dtype on the ranks ({@code auto}: the checkpoint's where the backend
 *                    keeps it, i.e. on GPU ranks)
 * @param profile     whether rank 0 reports where its prefill and its decode steps spend their time
 */
public record GenerateOptions(Path model, int[] promptIds, String promptText, int maxNewTokens, boolean ignoreEos,
                              Double temperature, int topK, double topP, Long seed, Path logits, Path json,
                              boolean verify, boolean measureBandwidth, DTypeChoice dtype, boolean profile) {

    public boolean sampling() {
        return temperature != null;
    }
}
