/** htm bound to Preact's h: tagged-template views without a JSX transform. */
import { h, type VNode } from 'preact'
import htm from 'htm'

export const html = htm.bind(h) as (strings: TemplateStringsArray, ...values: unknown[]) => VNode
