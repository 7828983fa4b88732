// Files written so that a process killed at any moment leaves the old file or the new one,
// never a truncated one: write-file-atomic writes a temporary file beside the target, flushes
// it to disk (fsync) and renames it over the target (a rename within a directory is atomic).
// Node only (the CLI's outputs).
import writeFileAtomic from "write-file-atomic";

/** Writes `data` to `path` atomically (temporary file, fsync, rename). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  writeFileAtomic.sync(path, typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), { fsync: true });
}
