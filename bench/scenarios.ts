/**
 * The named load scenarios. Each is a load shape (binds, window, rate, mix, receipts) with a short
 * default duration, runnable alone (`smsc bench <name>`); every flag of the runner overrides it.
 * The names say the shape: `<binds>x<window>`, `1000x10tps` = 1000 binds at 10 submit_sm/s each.
 */
import type { LoadOptions } from './esme-load'
import type { TargetName } from './targets'

export interface Scenario {
  name: string
  description: string
  load: Partial<LoadOptions>
  /** Targets run when --target is not given. */
  targets: TargetName[]
  /** Report RSS per bind of the server (bind everything, settle, read /proc/<pid>/status). */
  measureMemory?: boolean
}

const ALL: TargetName[] = ['engine', 'node-smpp', 'floor']

export const SCENARIOS: readonly Scenario[] = [
  {
    name: '1x1',
    description: '1 transceiver, window 1: pure round-trip latency, one submit at a time',
    load: { binds: 1, window: 1, durationS: 15 },
    targets: ALL,
  },
  {
    name: '10x100',
    description: '10 transceivers, window 100, as fast as it goes, no receipts',
    load: { binds: 10, window: 100, durationS: 15 },
    targets: ALL,
  },
  {
    name: '100x10',
    description: '100 transceivers, window 10, as fast as it goes, no receipts',
    load: { binds: 100, window: 10, durationS: 15 },
    targets: ALL,
  },
  {
    name: '1000x10tps',
    description: '1000 transceivers at 10 submit_sm/s each (10,000/s overall), window 10',
    load: { binds: 1000, window: 10, rate: 10_000, durationS: 20 },
    targets: ALL,
  },
  {
    name: 'receipts',
    description: 'registered_delivery=1, 10 transceivers, window 100; receipts come back over the same binds',
    load: { binds: 10, window: 100, registeredDelivery: 1, durationS: 15 },
    targets: ALL,
  },
  {
    name: 'long-ucs2',
    description: '3-part UCS2 messages (UDH concat), registered_delivery=1, 10 transceivers, window 100',
    load: { binds: 10, window: 100, mix: { 'long-ucs2': 1 }, registeredDelivery: 1, durationS: 15 },
    targets: ALL,
  },
  {
    name: 'pairs',
    description: '10 transmitter + 10 receiver binds, window 100, registered_delivery=1 (receipts on the receivers)',
    load: { binds: 10, bindType: 'pair', window: 100, registeredDelivery: 1, durationS: 15 },
    targets: ALL,
  },
  {
    name: 'mix',
    description: 'gsm 70% / ucs2 20% / 3-part long gsm 10%, registered_delivery=1, 10 transceivers, window 100',
    load: { binds: 10, window: 100, mix: { gsm: 70, ucs2: 20, 'long-gsm': 10 }, registeredDelivery: 1, durationS: 15 },
    targets: ALL,
  },
  {
    name: 'soak',
    description: '10 minutes at 50,000 submit_sm/s (about half the engine\'s receipts maximum), registered_delivery=1, 10x100: is RSS flat?',
    load: { binds: 10, window: 100, rate: 50_000, registeredDelivery: 1, durationS: 600 },
    targets: ['engine'],
  },
  {
    name: 'idle-5000',
    description: '5000 idle transceivers held for the duration: server RSS per bind (VmRSS before/after)',
    load: { binds: 5000, window: 1, idle: true, durationS: 10 },
    targets: ['engine'],
    measureMemory: true,
  },
]

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name)
}
