/**
 * The smallest Reflect metadata API that `@peculiar/x509` (through tsyringe) needs at load time.
 *
 * `@peculiar/x509` 2.x refuses to load without a Reflect metadata polyfill, and none (`reflect-metadata`, core-js) is a
 * dependency of this project. Its classes take no constructor parameters, so tsyringe only ever stores and reads
 * plain metadata entries; a WeakMap per target is all that takes. Import this module before `@peculiar/x509`.
 * Installing is idempotent: a real polyfill already present (or a second import) is left untouched.
 */

type MetadataKey = unknown;
type PropertyKey = string | symbol | undefined;

interface ReflectMetadataApi {
  defineMetadata(key: MetadataKey, value: unknown, target: object, property?: PropertyKey): void;
  getMetadata(key: MetadataKey, target: object, property?: PropertyKey): unknown;
  getOwnMetadata(key: MetadataKey, target: object, property?: PropertyKey): unknown;
  hasMetadata(key: MetadataKey, target: object, property?: PropertyKey): boolean;
  hasOwnMetadata(key: MetadataKey, target: object, property?: PropertyKey): boolean;
  metadata(key: MetadataKey, value: unknown): (target: object, property?: PropertyKey) => void;
}

const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<PropertyKey, Map<MetadataKey, unknown>>>();
  const own = (target: object, property: PropertyKey, create: boolean): Map<MetadataKey, unknown> | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let entries = byProperty.get(property);
    if (!entries && create) {
      entries = new Map();
      byProperty.set(property, entries);
    }
    return entries;
  };
  // Inherited lookups walk the prototype chain, as the reflect-metadata proposal specifies.
  const find = (target: object, property: PropertyKey, key: MetadataKey): { found: boolean; value?: unknown } => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const entries = own(t, property, false);
      if (entries?.has(key)) return { found: true, value: entries.get(key) };
    }
    return { found: false };
  };
  const api: ReflectMetadataApi = {
    defineMetadata: (key, value, target, property) => void own(target, property, true)!.set(key, value),
    getMetadata: (key, target, property) => find(target, property, key).value,
    getOwnMetadata: (key, target, property) => own(target, property, false)?.get(key),
    hasMetadata: (key, target, property) => find(target, property, key).found,
    hasOwnMetadata: (key, target, property) => own(target, property, false)?.has(key) ?? false,
    metadata: (key, value) => (target, property) => api.defineMetadata(key, value, target, property),
  };
  Object.assign(Reflect, api);
}

export {};
