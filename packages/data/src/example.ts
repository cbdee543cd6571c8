// The example types shared by the loaders and the batcher.

/** One raw-text example, as loaded from GLUE or a custom file, before tokenisation. */
export interface TextExample {
  text: string;
  /** Second sentence of a pair task; null for single-sentence tasks. */
  textPair: string | null;
  /**
   * Class id (index into the dataset's label list) for classification, the target value for regression,
   * null when the split has no labels (GLUE test files).
   */
  label: number | null;
  /** 1-based line of the source file where the row starts (for error messages and test submissions). */
  line: number;
}

/** One tokenised example (special tokens included, already truncated), as the engine tokenizer makes it. */
export interface TokenizedExample {
  inputIds: number[];
  tokenTypeIds: number[];
  /** Class id or regression target. */
  label: number;
}
