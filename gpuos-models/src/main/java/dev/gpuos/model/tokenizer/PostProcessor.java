package dev.gpuos.model.tokenizer;

import java.util.ArrayList;
import java.util.List;

/** The {@code post_processor} of tokenizer.json, for one sequence: adds [CLS]/[SEP], <|begin_of_text|>, ... */
sealed interface PostProcessor {
    List<Integer> single(List<Integer> ids);

    /** Items of a TemplateProcessing "single" template: fixed ids, or the sequence itself (ids == null). */
    record Template(List<int[]> items) implements PostProcessor {
        @Override
        public List<Integer> single(List<Integer> ids) {
            List<Integer> out = new ArrayList<>(ids.size() + 4);
            for (int[] item : items) {
                if (item == null) out.addAll(ids);
                else for (int id : item) out.add(id);
            }
            return out;
        }
    }

    /** Ids are unchanged (ByteLevel's processor only adjusts offsets). */
    enum Identity implements PostProcessor {
        INSTANCE;

        @Override
        public List<Integer> single(List<Integer> ids) { return ids; }
    }

    record Sequence(List<PostProcessor> steps) implements PostProcessor {
        @Override
        public List<Integer> single(List<Integer> ids) {
            List<Integer> out = ids;
            for (PostProcessor p : steps) out = p.single(out);
            return out;
        }
    }
}
