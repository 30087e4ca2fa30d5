/**
 * The model card's preprocessing: user mentions become `@user` and links become `http`, as in the
 * tweets the model was fine-tuned on. Tokens are split on whitespace runs and the whitespace itself is
 * kept, so nothing else about the text changes.
 */
export function preprocessTweet(text: string): string {
  return text
    .split(/(\s+)/)
    .map((token) => {
      if (token.startsWith('@') && token.length > 1) return '@user';
      if (token.startsWith('http')) return 'http';
      return token;
    })
    .join('');
}
