import { ingestSettings } from '../../core/settings/ingest';
import type { SettingsInput } from '../../core/settings/schema';

type IngestInput = SettingsInput<typeof ingestSettings.settings>;

/**
 * Ingest settings as environment variables, by their typed names (core/settings/ingest.ts): for the local stack's
 * `taskEnv` and for `loadIngestConfig`. Only the given keys are written; the reader's defaults apply to the rest.
 */
export function ingestEnv(values: Partial<IngestInput>): Record<string, string> {
  return ingestSettings.toEnv(values as IngestInput);
}
