import { InvalidArgumentError } from 'commander';
import type { Point } from '../generated/routeguide/Point';
import type { RouteNote } from '../generated/routeguide/RouteNote';

/**
 * Parses one coordinate. A number with a decimal point, or within ±180, is in degrees
 * (`40.7838351`); a larger integer is already E7 (`407838351`), as the wire format and the
 * feature file use.
 */
export function parseCoordinate(text: string, what: string): number {
  const trimmed = text.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(trimmed)) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is not a number`);
  }
  const value = Number(trimmed);
  const e7 = trimmed.includes('.') || Math.abs(value) <= 180 ? Math.round(value * 1e7) : value;
  if (!Number.isSafeInteger(e7)) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is out of range`);
  }
  return e7;
}

/** `LAT,LNG` → Point (each as in parseCoordinate). */
export function parsePoint(text: string): Point {
  const parts = text.split(',');
  if (parts.length !== 2)
    throw new InvalidArgumentError(`expected LAT,LNG, got ${JSON.stringify(text)}`);
  return {
    latitude: parseCoordinate(parts[0]!, 'latitude'),
    longitude: parseCoordinate(parts[1]!, 'longitude'),
  };
}

/** `LAT,LNG=message` → RouteNote. */
export function parseNote(text: string): RouteNote {
  const at = text.indexOf('=');
  if (at < 0)
    throw new InvalidArgumentError(`expected LAT,LNG=message, got ${JSON.stringify(text)}`);
  return { location: parsePoint(text.slice(0, at)), message: text.slice(at + 1) };
}

export function parsePositiveInteger(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(
      `${what} must be a positive integer, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

export function parseNonNegativeInteger(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(
      `${what} must be a non-negative integer, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/** Commander collector for repeatable options. */
export function collect<T>(
  parse: (text: string) => T,
): (text: string, previous: T[] | undefined) => T[] {
  return (text, previous) => [...(previous ?? []), parse(text)];
}

/** E7 → degrees, for display. */
export function degrees(e7: number): string {
  return (e7 / 1e7).toFixed(7).replace(/\.?0+$/, '');
}
