import { readFileSync, statSync } from 'node:fs';

/**
 * A bearer token kept in a file that something else rotates (a Kubernetes projected service
 * account token, an OAuth sidecar): `read()` re-reads it whenever its modification time or size
 * changed, so every call sends the current token. The first read happens at construction and
 * throws when the file is missing or empty; later a failed read keeps the last good token (a
 * rotation writing the file is not an outage).
 */
export class TokenFile {
  private token: string;
  private stamp: string;

  constructor(readonly file: string) {
    this.stamp = this.currentStamp();
    this.token = this.load();
  }

  /** The current token. */
  read(): string {
    try {
      const stamp = this.currentStamp();
      if (stamp !== this.stamp) {
        this.token = this.load();
        this.stamp = stamp;
      }
    } catch {
      // Mid-rotation (file replaced, briefly empty): keep sending the last good token.
    }
    return this.token;
  }

  private currentStamp(): string {
    const stats = statSync(this.file);
    return `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
  }

  private load(): string {
    const token = readFileSync(this.file, 'utf8').trim();
    if (token === '' || /\s/.test(token)) {
      throw new Error(`${this.file}: expected one bearer token, without spaces`);
    }
    return token;
  }
}
