export { SentimentTokenizer } from './sentiment-tokenizer';
export type { EncodedText, PaddedBatch, TokenizerOptions } from './sentiment-tokenizer';
export { preprocessTweet } from './preprocess';
