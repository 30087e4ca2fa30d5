/** Head re-fit settings, chosen on the small synthetic model and TweetEval (see the README's retraining figures). */
export const DEFAULT_FIT = {
  l2: 1e-4,
  learningRate: 0.05,
  maxEpochs: 500,
  patience: 40,
  classWeights: 'balanced' as const,
};
