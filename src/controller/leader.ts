import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiMessage, isConflict, isNotFound, type Clients } from '../k8s/api.js';

export interface LeaderElectionOptions {
  readonly clients: Clients;
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity (pod name + random suffix). */
  readonly identity: string;
  readonly logger: Logger;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

/**
 * Leader election on a coordination.k8s.io Lease, with client-go's semantics: acquire when the lease is free or
 * expired, renew every retry period, and give up leadership (the caller exits) when a renewal has not succeeded within
 * the renew deadline. On a clean stop the lease is released so a standby takes over at once.
 */
export class LeaderElector {
  private readonly leaseDuration: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private stopped = false;
  private leading = false;
  private observed?: { holder: string; renewTime: number; resourceVersion: string | undefined };

  constructor(private readonly options: LeaderElectionOptions) {
    this.leaseDuration = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Blocks until this replica leads (resolves true) or the elector is stopped (false). Then keeps renewing in the
   * background; `onLost` is called once if leadership is lost.
   */
  async run(onLost: () => void): Promise<boolean> {
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.options.logger.info({ lease: this.options.name, identity: this.options.identity }, 'became leader');
        void this.renewLoop(onLost);
        return true;
      }
      await sleep(this.retryPeriodMs);
    }
    return false;
  }

  private async renewLoop(onLost: () => void): Promise<void> {
    let lastRenew = Date.now();
    while (!this.stopped) {
      await sleep(this.retryPeriodMs);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
        continue;
      }
      if (Date.now() - lastRenew > this.renewDeadlineMs) {
        this.leading = false;
        this.options.logger.error({ lease: this.options.name }, 'leadership lost: lease not renewed within the deadline');
        onLost();
        return;
      }
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { clients, namespace, name } = this.options;
    let lease: V1Lease;
    try {
      lease = await clients.coordination.readNamespacedLease({ name, namespace });
    } catch (err) {
      return isNotFound(err) ? this.create() : this.failed(err);
    }
    if (!this.mayTake(lease)) return false;
    return this.take(lease);
  }

  private async create(): Promise<boolean> {
    const { clients, namespace, name, identity } = this.options;
    const now = microTime(new Date());
    try {
      await clients.coordination.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: this.leaseDuration, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        },
      });
      return true;
    } catch (err) {
      return this.failed(err);
    }
  }

  /**
   * Ours, free, or expired. Expiry is judged by when *we* last saw the record change, not by the holder's clock
   * (client-go does the same), so clock skew between replicas does not matter.
   */
  private mayTake(lease: V1Lease): boolean {
    const holder = lease.spec?.holderIdentity ?? '';
    const version = lease.metadata?.resourceVersion;
    if (this.observed?.holder !== holder || this.observed.resourceVersion !== version) {
      this.observed = { holder, renewTime: Date.now(), resourceVersion: version };
    }
    if (holder === '' || holder === this.options.identity) return true;
    const duration = (lease.spec?.leaseDurationSeconds ?? this.leaseDuration) * 1000;
    return Date.now() > this.observed.renewTime + duration;
  }

  private async take(lease: V1Lease): Promise<boolean> {
    const { clients, namespace, name, identity } = this.options;
    const spec = lease.spec ?? {};
    const ours = spec.holderIdentity === identity;
    const now = microTime(new Date());
    try {
      await clients.coordination.replaceNamespacedLease({
        name,
        namespace,
        body: {
          metadata: { ...lease.metadata, name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.leaseDuration,
            acquireTime: ours ? spec.acquireTime ?? now : now,
            renewTime: now,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
          },
        },
      });
      return true;
    } catch (err) {
      return this.failed(err);
    }
  }

  private failed(err: unknown): false {
    if (!isConflict(err)) this.options.logger.warn({ lease: this.options.name, err: apiMessage(err) }, 'lease update failed');
    return false;
  }

  /** Stops campaigning; if leading, releases the lease (holder cleared) so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    const { clients, namespace, name, identity } = this.options;
    // A renewal already on its way may land first and make this update conflict: read again and retry.
    for (let attempt = 1; ; attempt++) {
      try {
        const lease = await clients.coordination.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity !== identity) return;
        await clients.coordination.replaceNamespacedLease({
          name,
          namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) } },
        });
        return;
      } catch (err) {
        if (isConflict(err) && attempt < 5) continue;
        this.options.logger.warn({ lease: name, err: apiMessage(err) }, 'could not release the lease');
        return;
      }
    }
  }
}

/**
 * A Lease's times are MicroTime (six fractional digits); client-node serializes a Date with three, which the API
 * server rejects. The string is what goes on the wire; the type says Date because that is what client-node declares.
 */
export function microTime(date: Date): Date {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
