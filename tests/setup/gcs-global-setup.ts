// Placeholder: replaced by the GCS emulator global setup.
export default function setup(): void {}
