// The GCS storage rows (tests/conformance/gcs-storage-cases.ts) against the firebase emulator of the default
// tier; tests/real/gcs-storage.test.ts runs the same rows against fake-gcs-server.
import { gcsStorageCases } from '../conformance/gcs-storage-cases.js';
import { firebaseServer } from '../helpers/gcs.js';

gcsStorageCases(firebaseServer());
