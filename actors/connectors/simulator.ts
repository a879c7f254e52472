/**
 * The simulated carrier as a connector (id 'simulator'): always up, no window, outcomes drawn from
 * `simulator.*` (actors/carrier.ts). It is the default route, so the engine is useful with no
 * upstream at all.
 */
import type { ResolvedOptions } from '../../engine/config'
import { SIMULATOR_CONNECTOR } from '../../engine/config'
import { SimulatedCarrier, type CarrierItem } from '../carrier'
import type { Connector, ConnectorEvents, ConnectorStats, Dispatch } from './types'

export class SimulatorConnector implements Connector {
  readonly id = SIMULATOR_CONNECTOR
  readonly kind = 'simulator' as const
  readonly up = true
  private readonly carrier: SimulatedCarrier
  private sent = 0

  constructor(cfg: ResolvedOptions['simulator'], events: ConnectorEvents, now: number) {
    this.carrier = new SimulatedCarrier(cfg, (outcomes) => events.outcomes(outcomes), now, Math.random,
      // simulator.absentRate: subscriber absent at the first attempt → the dispatcher's retry with back-off
      (items) => events.retry(items as unknown as Dispatch[], 'subscriber absent'))
  }

  start(): void {}

  submit(items: Dispatch[], now: number): Dispatch[] {
    this.carrier.submitDests(items as CarrierItem[], now)
    this.sent += items.length
    return []
  }

  tick(now: number): void {
    this.carrier.tick(now)
  }

  stats(): ConnectorStats {
    return { id: this.id, kind: this.kind, up: true, inFlight: this.carrier.inFlight, sent: this.sent, failed: 0, paused: null }
  }

  async stop(): Promise<void> {}
}
