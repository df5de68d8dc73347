package dev.tp4j.io;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Picks the existing names closest to a name that was not found, so that an error for a mistyped or
 * wrongly prefixed tensor name shows what the file does hold. Closest means the fewest single-character
 * edits (Levenshtein distance); among equals, the longer common prefix, then alphabetical order.
 */
final class NearestNames {
    private NearestNames() {
    }

    static List<String> nearest(String wanted, Collection<String> names, int limit) {
        record Candidate(String name, int distance, int commonPrefix) {
        }
        List<Candidate> candidates = new ArrayList<>(names.size());
        for (String name : names) {
            candidates.add(new Candidate(name, editDistance(wanted, name), commonPrefixLength(wanted, name)));
        }
        candidates.sort(Comparator.comparingInt(Candidate::distance)
                .thenComparing(Comparator.comparingInt(Candidate::commonPrefix).reversed())
                .thenComparing(Candidate::name));
        List<String> nearest = new ArrayList<>(limit);
        for (int i = 0; i < Math.min(limit, candidates.size()); i++) {
            nearest.add(candidates.get(i).name());
        }
        return nearest;
    }

    static int editDistance(String a, String b) {
        // Two rows of the classic dynamic programme: previous[j] = distance(a[0..i), b[0..j)).
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    static int commonPrefixLength(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
    }
}
