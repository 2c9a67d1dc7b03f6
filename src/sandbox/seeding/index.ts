/**
 * The seeders, one per kind of target (a new seeded kind is one file here plus its line below), and seeding the
 * world in the order its seeds are listed.
 */
import type { TargetSeed } from '../world.js';
import type { SeedContext, SeededTarget, Seeder } from './context.js';
import { keyVaultTargetSeeder } from './keyvault-target.js';
import { powerPagesTargetSeeder } from './power-pages-target.js';

export type { SeedContext, SeededTarget } from './context.js';

const seeders: { [K in TargetSeed['kind']]: Seeder<Extract<TargetSeed, { kind: K }>> } = {
  keyvault: keyVaultTargetSeeder,
  'power-pages': powerPagesTargetSeeder,
};

/** Seeds every target in order (the written config lists them in the same order). */
export async function seedTargets(ctx: SeedContext, seeds: TargetSeed[]): Promise<SeededTarget[]> {
  const seeded: SeededTarget[] = [];
  for (const seed of seeds) {
    const seeder = seeders[seed.kind] as Seeder<typeof seed>;
    seeded.push(await seeder.seed(ctx, seed));
  }
  return seeded;
}
