// Error types of the public API. Messages are redacted before they are built.

export interface ConfigIssue {
  /** Option path, e.g. "rules[2].invalidate[0]" or "kafka.groupId" ("" for the options object itself). */
  path: string;
  /** The full, self-contained text, e.g. 'kafka.groupId: expected a non-empty string'. */
  message: string;
}

/** Thrown for invalid options, before anything is started. The message names every offending path. */
export class CdcCacheConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  /** Path of the first issue. */
  readonly path: string;

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.length === 0 ? 'invalid options' : issues.map((i) => i.message).join('; '));
    this.name = 'CdcCacheConfigError';
    this.issues = issues;
    this.path = issues.length > 0 ? issues[0].path : '';
  }
}

/** The native addon is missing or could not be loaded. */
export class CdcCacheNativeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CdcCacheNativeError';
  }
}
