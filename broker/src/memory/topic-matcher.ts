/**
 * AMQP topic matching: a pure helper shared by every transport that routes in process.
 *
 * Topics and patterns are dot-separated words. In a pattern `*` matches exactly one word
 * and `#` zero or more, as RabbitMQ's topic exchange does (so `a.#` matches `a`, and
 * `#` matches everything, including the empty topic).
 */
import { InvalidArgumentError } from '../errors.js';

/** RabbitMQ's limit for a routing key (a short string on the wire). */
export const MAX_TOPIC_BYTES = 255;

export type TopicMatcher = (topic: string) => boolean;

/** Compile a pattern once; the returned function matches topics against it. */
export function compileTopicPattern(pattern: string): TopicMatcher {
  const words = pattern.split('.');
  if (!words.includes('#') && !words.includes('*')) return (topic) => topic === pattern;
  if (words.length === 1 && words[0] === '#') return () => true;
  return (topic) => matchWords(words, topic.split('.'));
}

/** One-shot match; compile the pattern with `compileTopicPattern` when it is used often. */
export function topicMatches(pattern: string, topic: string): boolean {
  return compileTopicPattern(pattern)(topic);
}

/**
 * Dynamic programming over (pattern word, topic word): O(p × t) with no backtracking blow-up
 * on patterns such as `#.#.#.x`.
 */
function matchWords(pattern: readonly string[], topic: readonly string[]): boolean {
  // row[j]: does the pattern prefix processed so far match topic[0..j)?
  let row: boolean[] = new Array<boolean>(topic.length + 1).fill(false);
  row[0] = true;
  for (const word of pattern) {
    const next: boolean[] = new Array<boolean>(topic.length + 1).fill(false);
    if (word === '#') {
      // zero words (row[j]) or one more word after a match (next[j - 1])
      for (let j = 0; j <= topic.length; j++) next[j] = row[j]! || (j > 0 && next[j - 1]!);
    } else {
      for (let j = 1; j <= topic.length; j++) next[j] = row[j - 1]! && (word === '*' || word === topic[j - 1]);
    }
    row = next;
  }
  return row[topic.length]!;
}

/** A topic to publish on: non-empty, at most 255 bytes, no wildcard words. */
export function assertPublishTopic(topic: unknown): asserts topic is string {
  assertRoutingKey(topic, 'topic');
  for (const word of topic.split('.')) {
    if (word === '*' || word === '#')
      throw new InvalidArgumentError(
        `topic "${topic}" contains the wildcard "${word}"; wildcards are for subscriptions`,
      );
  }
}

/** A subscription pattern: non-empty, at most 255 bytes. */
export function assertTopicPattern(pattern: unknown): asserts pattern is string {
  assertRoutingKey(pattern, 'topic pattern');
}

function assertRoutingKey(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0)
    throw new InvalidArgumentError(`${what} must be a non-empty string`);
  if (Buffer.byteLength(value) > MAX_TOPIC_BYTES)
    throw new InvalidArgumentError(`${what} "${value.slice(0, 40)}..." is longer than ${MAX_TOPIC_BYTES} bytes`);
}
