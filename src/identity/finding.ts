/** One finding of the identity audit, in the JSON shape of `certrotate identity --json` (formatVersion 1). */

/** How much a finding matters: `high` breaks or silently changes the site, `low` asks for a review. */
export type Severity = 'high' | 'medium' | 'low';

/** What was found. */
export type FindingKind =
  | 'fetchxmlSystemFilter'
  | 'fetchxmlUserOperator'
  | 'fetchxmlDynamicOwner'
  | 'malformedFetchXml'
  | 'workflowOwnedBySystem'
  | 'extraRole'
  | 'missingRole'
  | 'missingColumnProfile'
  | 'disabledUser'
  | 'unreadableTable';

export interface Finding {
  severity: Severity;
  kind: FindingKind;
  /** The entity set the record came from (`adx_webtemplates`, `workflows`, …). */
  table: string;
  recordId: string | null;
  name: string | null;
  /** A short excerpt of the matched text. */
  excerpt: string;
  fix: string;
}

/** Where a scanned text came from. */
export interface RecordRef {
  table: string;
  recordId: string | null;
  name: string | null;
}
