/**
 * The storage a Blob listener's account uses, kept from what passes through dgf (uploads add, deletes
 * subtract) on top of one listing of the account at start. Feeds the storage quota gauge.
 */

export class StorageLedger {
  private readonly blobs = new Map<string, number>();
  private readonly pending = new Map<string, number>();
  private sum = 0;

  constructor(private readonly publish: (bytes: number) => void) {}

  get total(): number {
    return this.sum;
  }

  /** A blob written whole (Put Blob, or seen in a listing). */
  setBlob(object: string, bytes: number): void {
    this.sum += bytes - (this.blobs.get(object) ?? 0);
    this.blobs.set(object, bytes);
    this.publish(this.sum);
  }

  /** Bytes appended to a blob (Append Block). */
  addToBlob(object: string, bytes: number): void {
    this.setBlob(object, (this.blobs.get(object) ?? 0) + bytes);
  }

  /** Uncommitted blocks count as used storage, as the service bills them. */
  addPending(object: string, bytes: number): void {
    this.pending.set(object, (this.pending.get(object) ?? 0) + bytes);
    this.sum += bytes;
    this.publish(this.sum);
  }

  /** Put Block List: the staged blocks become the blob (approximation: every staged byte is committed). */
  commitPending(object: string): void {
    const staged = this.pending.get(object) ?? 0;
    this.pending.delete(object);
    this.sum -= staged;
    this.setBlob(object, staged > 0 ? staged : (this.blobs.get(object) ?? 0));
  }

  deleteBlob(object: string): void {
    this.sum -= (this.blobs.get(object) ?? 0) + (this.pending.get(object) ?? 0);
    this.blobs.delete(object);
    this.pending.delete(object);
    this.publish(this.sum);
  }

  deleteContainer(container: string): void {
    const prefix = `${container}/`;
    for (const key of [...this.blobs.keys(), ...this.pending.keys()]) if (key.startsWith(prefix)) this.deleteBlob(key);
    this.publish(this.sum);
  }
}
