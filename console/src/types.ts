// The wire types live with the engine (engine/wire.ts), which builds its frames and views as them.
export type * from '../../engine/wire'
