// The GCS storage rows (tests/conformance/gcs-storage-cases.ts) against fake-gcs-server (the real tier, started
// once per run by tests/setup/fake-gcs-global-setup.ts); tests/integration/gcs-storage.test.ts runs the same
// rows against the firebase emulator.
import { gcsStorageCases } from '../conformance/gcs-storage-cases.js';
import { fakeGcsServer } from '../helpers/gcs.js';

gcsStorageCases(fakeGcsServer());
