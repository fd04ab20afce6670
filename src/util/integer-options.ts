/**
 * Checks numeric options given in code: each must be a safe integer of at least `min`; throws a
 * RangeError naming the first that is not ("maxTotal must be a positive integer, got 0").
 */
export function assertIntegerOptions(values: Readonly<Record<string, number>>, min: 0 | 1): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isSafeInteger(value) || value < min) {
      const kind = min === 1 ? 'a positive' : 'a non-negative';
      throw new RangeError(`${name} must be ${kind} integer, got ${value}`);
    }
  }
}
