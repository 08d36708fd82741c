extension ResponseCache: CacheStore {
    /// Reads the generation before the entry, so a purge between the two only ever makes the
    /// fetch that follows store nothing.
    func lookup(_ key: String) async -> CacheLookup {
        let generation = generation
        return CacheLookup(entry: entry(key), generation: generation)
    }

    func store(_ response: CachedResponse, under key: String, vary: VaryMarker?, generation: UInt64) async {
        if let vary { store(.variants(vary.names), under: vary.primaryKey, generation: generation) }
        store(.response(response), under: key, generation: generation)
    }

    func shutdown() async {}
}
