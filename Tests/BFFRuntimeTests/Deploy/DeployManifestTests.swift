import BFFDemo
import BFFRuntime
import BFFSpec
import Foundation
import NIOHTTP1
import Testing
import Yams

#if canImport(Glibc)
import Glibc
#endif

/// deploy/ read without a container engine or a cluster: the Dockerfile, the kustomize tree, the
/// compose file and the systemd unit must agree with Package.swift, the flags and environment the
/// executables read, and the specs they serve. A flag, variable, port, product or spec renamed on
/// one side only fails here.
@Suite("Deploy: manifests agree with the code and specs", .timeLimit(.minutes(1)))
struct DeployManifestTests {
    static let dockerfilePath = "deploy/Dockerfile"
    static let composePath = "deploy/compose.yaml"
    static let basePath = "deploy/k8s/base/kustomization.yaml"
    static let unitPath = "deploy/systemd/bff@.service"

    // MARK: Dockerfile

    @Test("the Dockerfile builds each client's product statically and runs it, non-root and as PID 1, on the ports its environment names")
    func dockerfile() throws {
        let dockerfile = Dockerfile(text: try DeployTree.text(Self.dockerfilePath))
        let products = try DeployTree.executableProducts()
        let build = try #require(dockerfile.stage("build"), "\(Self.dockerfilePath) has no stage named build")
        let buildScript = build.all("RUN").map(\.arguments).joined(separator: "\n")

        let accepted = try #require(buildScript.firstMatch(of: /case "\$\{CLIENT\}" in\s+([a-z|]+)\)/), "the build stage does not check CLIENT against the client types")
        #expect(Set(accepted.output.1.split(separator: "|").map(String.init)) == Set(DeployTree.clients))
        let swiftBuild = try #require(buildScript.firstMatch(of: /swift build ([^&]*)--product "?([^"\s]+)"?/), "the build stage runs no `swift build --product`")
        #expect(swiftBuild.output.1.contains("-c release") && swiftBuild.output.1.contains("--static-swift-stdlib"), "the product must be a release build with the Swift runtime linked in")
        let product = String(swiftBuild.output.2)
        for client in DeployTree.clients {
            let name = product.replacingOccurrences(of: "${CLIENT}", with: client)
            #expect(products.contains(name), "CLIENT=\(client) builds '\(name)', which Package.swift does not declare")
        }
        let installed = try #require(buildScript.firstMatch(of: /--show-bin-path\)\/([^"\s]+)" "\/out([^"\s]+)"/), "the build stage does not copy the binary out of the build folder")
        #expect(String(installed.output.1) == product, "the build installs '\(installed.output.1)', not the product it built ('\(product)')")

        let image = try #require(dockerfile.stages.last, "\(Self.dockerfilePath) has no stages")
        let lineage = dockerfile.lineage(of: image)
        #expect(lineage.last?.base == "debian:bookworm-slim", "the runtime image should be debian:bookworm-slim, is \(lineage.last?.base ?? "?")")
        let entrypoint = try #require(image.all("ENTRYPOINT").last?.execForm, "the client stage needs an exec-form ENTRYPOINT, so SIGTERM reaches the BFF itself")
        let entry = try #require(entrypoint.first)
        let linksToProduct = buildScript.contains("ln -s \"\(product)\" /out\(entry)")
        #expect(entry == String(installed.output.2) || linksToProduct, "ENTRYPOINT \(entry) is neither the installed binary \(installed.output.2) nor a link to it")

        let user = try #require(image.all("USER").last?.arguments, "the client stage sets no USER, so the BFF would run as root")
        let uid = try #require(Int(user.split(separator: ":")[0]), "USER \(user) should be numeric, so Kubernetes' runAsNonRoot can check it")
        #expect(uid != 0)
        #expect(image.all("STOPSIGNAL").allSatisfy { $0.arguments == "SIGTERM" })

        // The ports a container built from it listens on, as the executable reads its environment.
        for name in DeployTree.clients {
            let environment = Self.imageEnvironment(name, dockerfile: dockerfile)
            #expect(try DeployTree.specPath(client: name, environment: environment) == "/etc/bff/\(name).yaml")
            let options = try DeployTree.serverOptions(spec: try DeployTree.shippedSpec(client: name), environment: environment)
            let exposed = Set(lineage.flatMap { $0.all("EXPOSE") }.flatMap(\.words).compactMap { Int($0.split(separator: "/")[0]) })
            #expect(exposed == Set([options.listen.port, options.adminListen?.port].compactMap { $0 }), "EXPOSE \(exposed.sorted()) differs from BFF_LISTEN \(options.listen) and BFF_ADMIN_LISTEN \(options.adminListen.map(String.init(describing:)) ?? "off")")
            #expect(options.adminListen != nil, "the image should serve the admin listener")
        }

        // The spec, and every file it reads relative to itself, are where BFF_SPEC says.
        let specs = try #require(dockerfile.stage("specs"), "\(Self.dockerfilePath) has no stage named specs")
        let specScript = specs.all("RUN").map(\.arguments).joined(separator: "\n")
        let specPath = try #require(image.environment["BFF_SPEC"])
        #expect(specScript.contains("\"/bff-specs/${CLIENT}.yaml\" \"/out\(specPath)\""), "the specs stage does not put the client's spec at BFF_SPEC (\(specPath))")
        let specFolder = (specPath as NSString).deletingLastPathComponent
        for name in DeployTree.clients {
            for read in try DeployTree.filesRead(byShippedSpec: name) {
                let top = String(read.split(separator: "/")[0])
                #expect(specScript.contains("/bff-specs/\(top) /out\(specFolder)/\(top)"), "\(name).yaml reads \(read), which the specs stage does not copy to \(specFolder)/\(top)")
            }
        }

        // The healthcheck is the script from deploy/, probing /health on BFF_LISTEN (no argument).
        let healthcheck = try #require(image.all("HEALTHCHECK").last, "the client stage has no HEALTHCHECK")
        let command = try #require(
            healthcheck.arguments.firstRange(of: "CMD ").flatMap { try? JSONSerialization.jsonObject(with: Data(healthcheck.arguments[$0.upperBound...].utf8)) } as? [String],
            "HEALTHCHECK should use the exec form"
        )
        #expect(command.count == 1, "HEALTHCHECK \(command) should probe BFF_LISTEN, the public port")
        let copied = lineage.flatMap { $0.all("COPY") }.compactMap(\.copyPaths).first { $0.destination == command[0] }
        #expect(copied?.sources == ["deploy/healthcheck.sh"], "HEALTHCHECK runs \(command[0]), which is not deploy/healthcheck.sh")
        #expect(try DeployTree.text("deploy/healthcheck.sh").contains("GET /health HTTP/1.1"))

        // What the stages copy from the context exists and is not ignored.
        let ignored = try DeployTree.text("deploy/Dockerfile.dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(ignored.contains(".build") && ignored.contains(".git"), "the context would carry .build/ and .git/ (gigabytes)")
        for stage in dockerfile.stages {
            for copy in stage.all("COPY") where copy.flag("from") == nil {
                for source in copy.copyPaths?.sources ?? [] where !source.contains("$") {
                    #expect(DeployTree.exists(source), "\(Self.dockerfilePath):\(copy.line) copies \(source), which does not exist")
                    let top = String(source.split(separator: "/")[0])
                    #expect(!ignored.contains { fnmatch($0, top, 0) == 0 }, "\(Self.dockerfilePath):\(copy.line) copies \(source), which deploy/Dockerfile.dockerignore leaves out")
                }
            }
        }
    }

    @Test("the healthcheck script passes on a serving BFF and fails on a closed port or an answer other than 200")
    func healthcheckScript() async throws {
        try await withStubs(2) { stubs in
            let port = try ExecutableTests.freePort()
            let spec = try Self.minimalPartnerSpec(upstream: stubs[0])
            defer { try? FileManager.default.removeItem(atPath: spec) }
            let process = try ChildProcess(
                executable: ExecutableTests.binary("partner-bff").path,
                arguments: ["--spec", spec, "--listen", "127.0.0.1:\(port)", "--admin-listen", "off", "--no-access-log"],
                standardOutput: .discarded,
                standardError: .discarded
            )
            defer { process.kill() }
            let started = await eventually(within: .seconds(10)) { await ExecutableTests.status("http://127.0.0.1:\(port)/health") == 200 }
            try #require(started, "partner-bff did not start")

            #expect(try await Self.healthcheck(environment: ["BFF_LISTEN": "0.0.0.0:\(port)"]).status == 0, "0.0.0.0 means this host")
            #expect(try await Self.healthcheck(["127.0.0.1:\(port)"]).status == 0)
            let closed = try await withRefusingPort { try await Self.healthcheck(["127.0.0.1:\($0)"]) }
            #expect(closed.status != 0)
            stubs[1].on("/health", .serviceUnavailable, body: "{}")
            let unhealthy = try await Self.healthcheck(["127.0.0.1:\(stubs[1].port)"])
            #expect(unhealthy.status != 0)
            #expect(unhealthy.errors.contains("HTTP/1.1 503"), "the failure should say what answered: \(unhealthy.errors)")
            #expect(try await Self.healthcheck(environment: [:]).status != 0, "without BFF_LISTEN or an argument there is nothing to probe")
        }
    }

    // MARK: Kubernetes

    @Test("each client's Deployment runs its product on the ports its environment names, probes /ready and /health, outlasts pre-drain plus drain, and mounts its spec where BFF_SPEC says")
    func deployments() throws {
        let products = try DeployTree.executableProducts()
        let base = try Self.kubernetesResources(Self.basePath)
        let generators = try Self.generatorFiles(Self.basePath)
        let uid = try Self.imageUser()
        for client in DeployTree.clients {
            let name = "\(client)-bff"
            let deployment = try #require(base.first { Self.isResource($0, "Deployment", name) }, "deploy/k8s/base has no Deployment \(name)")
            let podLabels = Self.labels(deployment.at("spec", "template", "metadata", "labels"))
            let pod = try #require(deployment.at("spec", "template", "spec"))
            let container = try #require(pod["containers"]?.array().first { $0["name"]?.text == "bff" }, "\(name) has no container named bff")

            let image = try #require(container["image"]?.text)
            let imageName = String(image.split(separator: "/").last!.split(separator: ":")[0])
            #expect(imageName == name && products.contains(imageName), "\(name) runs image \(image), not the \(name) product")

            let environment = Self.environment(container)
            let options = try DeployTree.serverOptions(spec: try DeployTree.loadedSpec(client: client, variant: "cluster"), environment: environment)
            let ports = Self.containerPorts(container)
            #expect(ports.values.contains(options.listen.port), "\(name) declares ports \(ports) but listens on \(options.listen)")
            let admin = try #require(options.adminListen, "\(name) turns the admin listener off; Prometheus scrapes it")
            #expect(ports["admin"] == admin.port, "\(name)'s admin port \(ports["admin"].map(String.init) ?? "none") is not BFF_ADMIN_LISTEN's \(admin.port)")

            for (probe, path) in [("readinessProbe", "/ready"), ("livenessProbe", "/health")] {
                let get = try #require(container[probe]?["httpGet"], "\(name) has no HTTP \(probe)")
                #expect(get["path"]?.text == path, "\(name)'s \(probe) asks \(get["path"]?.text ?? "nothing"), expected \(path)")
                #expect(Self.port(get["port"], in: ports) == options.listen.port, "\(name)'s \(probe) should use the public port \(options.listen.port)")
            }
            let grace = try #require(pod["terminationGracePeriodSeconds"]?.int, "\(name) leaves terminationGracePeriodSeconds at the default")
            let stopping = Self.seconds(options.preDrain + options.drainTimeout)
            #expect(Double(grace) > stopping, "\(name): terminationGracePeriodSeconds \(grace) must exceed pre-drain + drain (\(stopping) s)")

            for kind in ["requests", "limits"] {
                let set = Self.labels(container["resources"]?[kind])
                #expect(set["memory"] != nil && set["cpu"] != nil, "\(name) should set cpu and memory \(kind)")
            }
            let antiAffinity = pod.at("affinity", "podAntiAffinity")?.members.flatMap { $0.value.array() } ?? []
            #expect(antiAffinity.contains { term in
                let selector = Self.labels((term["podAffinityTerm"] ?? term).at("labelSelector", "matchLabels"))
                return !selector.isEmpty && selector.allSatisfy { podLabels[$0.key] == $0.value }
            }, "\(name) has no pod anti-affinity selecting its own pods")
            #expect(pod.at("securityContext", "runAsNonRoot")?.bool == true)
            #expect(pod.at("securityContext", "runAsUser")?.int == uid, "\(name) should run as the image's user \(uid)")

            // BFF_SPEC and every file the spec reads relative to itself come from the generated ConfigMaps.
            let specPath = try DeployTree.specPath(client: client, environment: environment)
            let files = Self.mountedFiles(pod: pod, container: container)
            let specSource = try #require(files[specPath], "\(name): nothing is mounted at BFF_SPEC \(specPath)")
            #expect(generators[specSource] == "bff-specs/\(client).yaml", "\(name): \(specPath) comes from \(specSource.configMap)/\(specSource.key), which is not generated from bff-specs/\(client).yaml")
            let folder = (specPath as NSString).deletingLastPathComponent
            for read in try DeployTree.filesRead(byShippedSpec: client) {
                let source = try #require(files["\(folder)/\(read)"], "\(name): \(client).yaml reads \(read), which is not mounted at \(folder)/\(read)")
                let generated = try #require(generators[source], "\(name): \(folder)/\(read) comes from \(source.configMap)/\(source.key), which base does not generate")
                #expect(DeployTree.exists(generated), "\(generated) does not exist")
            }
            if let shared = files["\(folder)/shared/services.yaml"] {
                #expect(generators[shared] == DeployTree.sharedIncludes["cluster"], "base should mount the cluster include")
            }

            let named = DeployTree.environmentNamed(by: try DeployTree.loadedSpec(client: client, variant: "cluster"))
            for variable in named.required.union(named.optional) {
                #expect(environment.keys.contains(variable), "\(name)'s spec reads \(variable), which the Deployment does not set")
            }

            let autoscaler = try #require(base.first { $0["kind"]?.text == "HorizontalPodAutoscaler" && $0.at("spec", "scaleTargetRef", "name")?.text == name }, "no HorizontalPodAutoscaler scales \(name)")
            let minimum = autoscaler.at("spec", "minReplicas")?.int ?? 1, maximum = autoscaler.at("spec", "maxReplicas")?.int ?? 0
            #expect(minimum >= 2 && minimum <= maximum, "\(name) scales between \(minimum) and \(maximum); a rolling restart needs at least 2")
            #expect(deployment.at("spec", "replicas") == nil, "\(name) sets replicas, which every apply would reset under the autoscaler")
            let budget = try #require(base.first { $0["kind"]?.text == "PodDisruptionBudget" && Self.selects($0.at("spec", "selector", "matchLabels"), podLabels) }, "no PodDisruptionBudget covers \(name)")
            #expect(budget.at("spec", "maxUnavailable") != nil || budget.at("spec", "minAvailable") != nil)
            let service = try #require(base.first { Self.isResource($0, "Service", name) }, "deploy/k8s/base has no Service \(name)")
            #expect(Self.selects(service.at("spec", "selector"), podLabels), "Service \(name) does not select the Deployment's pods")
            let servicePorts = service.at("spec", "ports")?.array() ?? []
            #expect(servicePorts.contains { Self.port($0["targetPort"] ?? $0["port"], in: ports) == options.listen.port }, "Service \(name) does not forward to the public port")
        }
    }

    @Test("no Service anywhere in deploy/k8s forwards to an admin port, and only the monitoring namespace may reach it")
    func adminPortStaysPrivate() throws {
        var adminPorts: [(name: String, number: Int)] = []
        var podLabels: [[String: String]] = []
        for deployment in try Self.kubernetesResources(Self.basePath) where deployment["kind"]?.text == "Deployment" {
            for container in deployment.at("spec", "template", "spec", "containers")?.array() ?? [] {
                if let admin = container["ports"]?.array().first(where: { $0["name"]?.text == "admin" }), let number = admin["containerPort"]?.int {
                    adminPorts.append(("admin", number))
                    podLabels.append(Self.labels(deployment.at("spec", "template", "metadata", "labels")))
                }
            }
        }
        #expect(adminPorts.count == DeployTree.clients.count, "every BFF container should name its admin port 'admin'")

        for file in DeployTree.files(under: "deploy/k8s") where file.hasSuffix(".yaml") {
            for service in try DeployTree.documents(file) where service["kind"]?.text == "Service" {
                for port in service.at("spec", "ports")?.array() ?? [] {
                    for field in ["port", "targetPort"] {
                        guard let value = port[field]?.text else { continue }
                        #expect(!adminPorts.contains { $0.name == value || String($0.number) == value }, "\(file): Service \(service.at("metadata", "name")?.text ?? "?") exposes the admin port (\(field): \(value))")
                    }
                }
            }
        }

        let policies = try Self.kubernetesResources(Self.basePath).filter { $0["kind"]?.text == "NetworkPolicy" }
        for labels in podLabels {
            let covering = policies.filter { Self.selects($0.at("spec", "podSelector", "matchLabels"), labels) }
            #expect(!covering.isEmpty, "no NetworkPolicy covers the pods labelled \(labels)")
            var adminReachable = false
            for policy in covering {
                for rule in policy.at("spec", "ingress")?.array() ?? [] {
                    let ports = try #require(rule["ports"]?.array(), "an ingress rule without ports opens every port, the admin port too")
                    guard ports.contains(where: { port in adminPorts.contains { $0.name == port["port"]?.text || String($0.number) == port["port"]?.text } }) else { continue }
                    adminReachable = true
                    let peers = rule["from"]?.array() ?? []
                    #expect(!peers.isEmpty, "the admin port is open to every peer")
                    for peer in peers {
                        #expect(Self.labels(peer.at("namespaceSelector", "matchLabels"))["kubernetes.io/metadata.name"] == "monitoring", "the admin port is open beyond the monitoring namespace: \(peer.members.map(\.key))")
                    }
                }
            }
            #expect(adminReachable, "no rule lets Prometheus reach the admin port")
        }
    }

    @Test("every kustomization names files that exist; overlays rename only known images, keep replicas and resources sound, and outlast the drain")
    func kustomizations() throws {
        let kustomizations = DeployTree.files(under: "deploy/k8s").filter { $0.hasSuffix("/kustomization.yaml") }
        #expect(Set(kustomizations) == ["deploy/k8s/base/kustomization.yaml", "deploy/k8s/overlays/dev/kustomization.yaml", "deploy/k8s/overlays/prod/kustomization.yaml"])
        let base = try Self.kubernetesResources(Self.basePath)
        let baseGenerators = Set(try Self.generatorFiles(Self.basePath).keys.map(\.configMap))
        for path in kustomizations {
            let kustomization = try DeployTree.document(path)
            for resource in kustomization["resources"]?.array().compactMap(\.text) ?? [] {
                let target = DeployTree.resolve(resource, from: path)
                #expect(DeployTree.exists(target) || DeployTree.exists(target + "/kustomization.yaml"), "\(path) names resource \(resource), which does not exist")
            }
            for patch in kustomization["patches"]?.array() ?? [] {
                if let file = patch["path"]?.text { #expect(DeployTree.exists(DeployTree.resolve(file, from: path)), "\(path) names patch \(file), which does not exist") }
            }
            for generator in (kustomization["configMapGenerator"]?.array() ?? []) + (kustomization["secretGenerator"]?.array() ?? []) {
                for file in generator["files"]?.array().compactMap(\.text) ?? [] {
                    let source = String(file.split(separator: "=").last!)
                    #expect(DeployTree.exists(DeployTree.resolve(source, from: path)), "\(path) generates \(generator["name"]?.text ?? "?") from \(source), which does not exist")
                }
                if generator["behavior"]?.text == "merge", let name = generator["name"]?.text {
                    #expect(baseGenerators.contains(name), "\(path) merges into \(name), which base does not generate")
                }
            }
            guard path != Self.basePath else { continue }

            let images = Set(try Self.allImages(base: base, overlay: path).map { String($0.split(separator: ":")[0]) })
            for image in kustomization["images"]?.array() ?? [] {
                let name = try #require(image["name"]?.text)
                #expect(images.contains(name), "\(path) retags \(name), which no container uses")
                if let newName = image["newName"]?.text {
                    #expect(newName.split(separator: "/").last == name.split(separator: "/").last, "\(path) renames \(name) to \(newName): the last part must stay the product name")
                }
            }
            for patch in kustomization["patches"]?.array() ?? [] {
                guard let file = patch["path"]?.text else { continue }
                let target = patch.at("target", "kind")?.text
                let documents = try DeployTree.documents(DeployTree.resolve(file, from: path))
                if target == "HorizontalPodAutoscaler" {
                    var bounds: [String: Int] = [:]
                    for operation in documents.flatMap({ $0.array() }) {
                        if let field = operation["path"]?.text, let value = operation["value"]?.int { bounds[field] = value }
                    }
                    let minimum = bounds["/spec/minReplicas"] ?? 2, maximum = bounds["/spec/maxReplicas"] ?? 10
                    #expect(minimum >= 2 && minimum <= maximum, "\(path): replicas between \(minimum) and \(maximum); a rolling restart needs at least 2")
                }
                if target == "Deployment", let selector = patch.at("target", "labelSelector")?.text {
                    let pairs = selector.split(separator: ",").map { $0.split(separator: "=").map(String.init) }
                    let matched = base.filter { resource in
                        resource["kind"]?.text == "Deployment" && pairs.allSatisfy { Self.labels(resource.at("metadata", "labels"))[$0[0]] == $0.last }
                    }
                    #expect(matched.count == DeployTree.clients.count, "\(path): patch \(file) selects \(matched.count) Deployments, expected the \(DeployTree.clients.count) BFFs")
                    for document in documents where document["kind"]?.text == "Deployment" {
                        try Self.checkDeploymentPatch(document, file: file, overlay: path, on: matched)
                    }
                }
            }
        }
    }

    // MARK: Compose

    @Test("compose builds each client's image, publishes its public port and never its admin port, outlasts the drain, and Prometheus scrapes every admin listener")
    func compose() throws {
        let compose = try DeployTree.document(Self.composePath)
        let services = try #require(compose["services"], "\(Self.composePath) has no services")
        let dockerfile = Dockerfile(text: try DeployTree.text(Self.dockerfilePath))
        let prometheus = try Self.prometheusTargets(services)
        var redisHosts: Set<String> = []
        for client in DeployTree.clients {
            let name = "\(client)-bff"
            let service = try #require(services[name], "\(Self.composePath) has no service \(name)")
            let context = DeployTree.resolve(service.at("build", "context")?.text ?? ".", from: Self.composePath)
            let dockerfilePath = [context, service.at("build", "dockerfile")?.text ?? "Dockerfile"].filter { !$0.isEmpty }.joined(separator: "/")
            #expect(dockerfilePath == Self.dockerfilePath, "\(name) builds \(dockerfilePath)")
            #expect(service.at("build", "args", "CLIENT")?.text == client, "\(name) builds with CLIENT=\(service.at("build", "args", "CLIENT")?.text ?? "unset")")
            #expect(service["image"]?.text.map { String($0.split(separator: "/").last!.split(separator: ":")[0]) } == name)

            let environment = Self.imageEnvironment(client, dockerfile: dockerfile).merging(Self.composeEnvironment(service)) { $1 }
            let spec = try DeployTree.loadedSpec(client: client, variant: "demo")
            let options = try DeployTree.serverOptions(spec: spec, environment: environment)
            let owner = service["network_mode"]?.text.flatMap { $0.hasPrefix("service:") ? String($0.dropFirst(8)) : nil } ?? name
            let published = Self.publishedPorts(services[owner])
            #expect(published.contains(options.listen.port), "\(name) listens on \(options.listen) but \(owner) publishes \(published.sorted())")
            let admin = try #require(options.adminListen, "\(name) turns the admin listener off; Prometheus scrapes it")
            #expect(!published.contains(admin.port), "\(owner) publishes \(name)'s admin port \(admin.port)")
            #expect(prometheus.contains("\(owner):\(admin.port)"), "deploy/prometheus.yml does not scrape \(name) at \(owner):\(admin.port)")

            let grace = service["stop_grace_period"]?.text.flatMap(seconds(in:)) ?? 10
            let stopping = Self.seconds(options.preDrain + options.drainTimeout)
            #expect(grace > stopping, "\(name): stop_grace_period \(grace) s must exceed pre-drain + drain (\(stopping) s)")

            let specPath = try DeployTree.specPath(client: client, environment: environment)
            let folder = (specPath as NSString).deletingLastPathComponent
            let read = Set(try DeployTree.filesRead(byShippedSpec: client).map { "\(folder)/\($0)" })
            for volume in service["volumes"]?.array().compactMap(\.text) ?? [] {
                let parts = volume.split(separator: ":").map(String.init)
                let source = DeployTree.resolve(parts[0], from: Self.composePath)
                #expect(DeployTree.exists(source), "\(name) mounts \(parts[0]), which does not exist")
                #expect(read.contains(parts[1]), "\(name) mounts \(parts[1]), which its spec at \(specPath) does not read (it reads \(read.sorted()))")
                if parts[1] == "\(folder)/shared/services.yaml" {
                    #expect(source == DeployTree.sharedIncludes["demo"], "\(name) should mount the demo include")
                }
            }
            #expect(service["volumes"]?.array().contains { $0.text?.contains("/shared/services.yaml") == true } == true, "\(name) keeps the image's include, whose limits are per process")

            let named = DeployTree.environmentNamed(by: spec)
            for variable in named.required.union(named.optional) {
                #expect(environment.keys.contains(variable), "\(name)'s spec reads \(variable), which compose does not set")
            }
            if case .redis(let url) = spec.edge.rateLimits.store { redisHosts.insert(url.host) }
            let dependsOn = service["depends_on"]
            let dependencies = Set(dependsOn?.sequence != nil ? dependsOn!.array().compactMap(\.text) : dependsOn?.members.map(\.key) ?? [])
            #expect(dependencies.isSuperset(of: redisHosts), "\(name) should wait for \(redisHosts.sorted())")
        }
        #expect(!redisHosts.isEmpty, "the demo include should keep limits in Redis")
        for host in redisHosts { #expect(services[host] != nil, "the demo include dials redis at \(host), which compose does not run") }

        let demo = try #require(services["demo"], "\(Self.composePath) has no demo service")
        let target = try #require(demo.at("build", "target")?.text, "the demo service should build the demo stage")
        #expect(dockerfile.stage(target) != nil, "\(Self.dockerfilePath) has no stage \(target)")
    }

    @Test("the demo runs with flags `bff demo` has, and the demo include points at the demo's own service ports")
    func demo() async throws {
        let help = try await ExecutableTests.run(ExecutableTests.binary("bff"), ["demo", "--help"])
        #expect(help.status == 0, "\(help.errors)")
        let dockerfile = Dockerfile(text: try DeployTree.text(Self.dockerfilePath))
        let entrypoint = try #require(dockerfile.stage("demo")?.all("ENTRYPOINT").last?.execForm, "the demo stage needs an exec-form ENTRYPOINT")
        #expect(Array(entrypoint.dropFirst().prefix(1)) == ["demo"])
        let composeDemo = try DeployTree.document(Self.composePath).at("services", "demo")
        let sidecar = try DeployTree.documents("deploy/k8s/overlays/dev/demo-sidecar.yaml").flatMap { $0.array() }.compactMap { $0["value"] }.first { $0["name"]?.text == "demo" }
        let composeArguments = composeDemo?["command"]?.array().compactMap(\.text) ?? []
        let sidecarArguments = sidecar?["args"]?.array().compactMap(\.text) ?? []
        // Each BFF runs as its own container beside the demo, so the demo must not start its own four.
        #expect(composeArguments.contains("--services-only"), "the compose demo should run the demo services only")
        #expect(sidecarArguments.contains("--services-only"), "the dev sidecar should run the demo services only")
        let flags = Set(help.output.matches(of: /--[a-z][a-z0-9-]*/).map { String($0.output) })
        for flag in entrypoint.dropFirst(2) + composeArguments + sidecarArguments where flag.hasPrefix("--") {
            #expect(flags.contains(flag), "bff demo has no flag \(flag); it has \(flags.sorted())")
        }

        let catalogue = Dictionary(uniqueKeysWithValues: DemoServices.catalogue().map { ($0.name, $0.port) })
        let spec = try DeployTree.loadedSpec(client: "web", variant: "demo")
        #expect(Set(spec.services.keys) == Set(catalogue.keys))
        for (name, service) in spec.services {
            #expect(service.url.host == "127.0.0.1" && service.url.port == catalogue[name], "the demo include sends \(name) to \(service.url), the demo serves it on 127.0.0.1:\(catalogue[name] ?? 0)")
        }
    }

    // MARK: systemd

    @Test("the systemd template runs each client's product with its env file, stops it with SIGTERM, and waits longer than pre-drain plus drain")
    func systemd() throws {
        let products = try DeployTree.executableProducts()
        let unit = try Self.unitSettings(Self.unitPath)
        #expect(unit["KillSignal"] == ["SIGTERM"], "KillSignal should be SIGTERM, is \(unit["KillSignal"] ?? ["the default"])")
        let start = try #require(unit["ExecStart"]?.first?.split(separator: " ").first.map(String.init), "\(Self.unitPath) has no ExecStart")
        let environmentFile = try #require(unit["EnvironmentFile"]?.first, "\(Self.unitPath) has no EnvironmentFile")
        let timeout = try #require(unit["TimeoutStopSec"]?.first.flatMap(seconds(in:)), "\(Self.unitPath) leaves TimeoutStopSec at the default")
        #expect(unit["NoNewPrivileges"] == ["yes"] && unit["DynamicUser"] == ["yes"] && unit["ProtectSystem"] == ["strict"])
        var defaults: [String: String] = [:]
        for line in unit["Environment"] ?? [] {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { defaults[parts[0]] = parts[1] }
        }
        for client in DeployTree.clients {
            let binary = (start as NSString).lastPathComponent.replacingOccurrences(of: "%i", with: client)
            #expect(products.contains(binary), "bff@\(client) runs \(binary), which Package.swift does not declare")
            let file = "deploy/systemd/env/" + (String(environmentFile.trimmingPrefix("-")) as NSString).lastPathComponent.replacingOccurrences(of: "%i", with: client)
            let environment = defaults.mapValues { $0.replacingOccurrences(of: "%i", with: client) }.merging(try Self.environmentFile(file)) { $1 }
            #expect(try DeployTree.specPath(client: client, environment: environment) == "/etc/bff/\(client).yaml")
            let spec = try DeployTree.shippedSpec(client: client)
            let options = try DeployTree.serverOptions(spec: spec, environment: environment)
            let stopping = Self.seconds(options.preDrain + options.drainTimeout)
            #expect(timeout > stopping, "TimeoutStopSec \(timeout) s must exceed \(file)'s pre-drain + drain (\(stopping) s)")
            for variable in DeployTree.environmentNamed(by: spec).required {
                #expect(environment.keys.contains(variable), "\(client).yaml needs \(variable), which \(file) does not set")
            }
        }
    }

    // MARK: Names shared with the code

    @Test("every BFF_* variable named anywhere in deploy/ is one the code reads or a spec names")
    func environmentNames() throws {
        let sources = try DeployTree.sources()
        var known = Set(sources.matches(of: /"(BFF_[A-Z0-9_]+)"/).map { String($0.output.1) })
        for client in DeployTree.clients {
            for variant in DeployTree.sharedIncludes.keys {
                let named = DeployTree.environmentNamed(by: try DeployTree.loadedSpec(client: client, variant: variant))
                known.formUnion(named.required.union(named.optional))
            }
        }
        var unknown: [String] = []
        for file in DeployTree.files(under: "deploy") {
            let text = try DeployTree.text(file)
            for name in Set(text.matches(of: /BFF_[A-Z0-9_]+/).map { String($0.output) }) where !known.contains(name) {
                unknown.append("\(file): \(name)")
            }
        }
        #expect(unknown.isEmpty, "deploy/ sets variables nothing reads: \(unknown.sorted().joined(separator: ", "))")
    }

    @Test("each client's spec with each deploy include passes bff validate and keeps its limits in the Redis that compose and the cluster run")
    func specsValidate() async throws {
        let base = try Self.kubernetesResources(Self.basePath)
        let prodRedis = try DeployTree.documents("deploy/k8s/overlays/prod/managed-redis.yaml").filter { $0["kind"]?.text == "Service" }.compactMap { $0.at("metadata", "name")?.text }
        for variant in DeployTree.sharedIncludes.keys.sorted() {
            var paths: [String] = []
            var folders: [URL] = []
            defer { for folder in folders { try? FileManager.default.removeItem(at: folder) } }
            for client in DeployTree.clients {
                let (folder, path) = try DeployTree.assembledSpec(client: client, variant: variant)
                folders.append(folder)
                paths.append(path)
                let spec = try SpecLoader.load(file: path)
                guard case .redis(let url) = spec.edge.rateLimits.store else {
                    Issue.record("\(client).yaml with the \(variant) include keeps limits per process; replicas would each have a budget")
                    continue
                }
                #expect(base.contains { Self.isResource($0, "Service", url.host) }, "the \(variant) include dials redis at \(url.host), which deploy/k8s/base has no Service for")
                #expect(prodRedis.contains(url.host), "the prod overlay does not point \(url.host) at the managed Redis")
            }
            let result = try await ExecutableTests.run(ExecutableTests.binary("bff"), ["validate"] + paths)
            #expect(result.status == 0, "bff validate refuses the \(variant) include: \(result.errors)")
            #expect(result.output.split(separator: "\n").filter { $0.contains(": ok (") }.count == DeployTree.clients.count)
        }
    }
}

// MARK: - Reading manifests

extension DeployManifestTests {
    /// The environment a container built with `CLIENT=client` starts with.
    static func imageEnvironment(_ client: String, dockerfile: Dockerfile) -> [String: String] {
        guard let last = dockerfile.stages.last else { return [:] }
        var environment: [String: String] = [:]
        for stage in dockerfile.lineage(of: last).reversed() {
            environment.merge(stage.environment.mapValues { $0.replacingOccurrences(of: "${CLIENT}", with: client) }) { $1 }
        }
        return environment
    }

    /// The numeric user the client image runs as.
    static func imageUser() throws -> Int {
        let dockerfile = Dockerfile(text: try DeployTree.text(dockerfilePath))
        let user = try #require(dockerfile.stages.last?.all("USER").last?.arguments.split(separator: ":").first)
        return try #require(Int(user))
    }

    /// Every Kubernetes object in the files a kustomization lists (not its sub-kustomizations).
    static func kubernetesResources(_ kustomization: String) throws -> [Node] {
        let root = try DeployTree.document(kustomization)
        return try (root["resources"]?.array().compactMap(\.text) ?? []).flatMap { resource -> [Node] in
            let path = DeployTree.resolve(resource, from: kustomization)
            return path.hasSuffix(".yaml") ? try DeployTree.documents(path).filter { $0["kind"] != nil } : []
        }
    }

    struct ConfigMapKey: Hashable {
        let configMap: String
        let key: String
    }

    /// What each generated ConfigMap key is read from, as repository paths.
    static func generatorFiles(_ kustomization: String) throws -> [ConfigMapKey: String] {
        var files: [ConfigMapKey: String] = [:]
        for generator in try DeployTree.document(kustomization)["configMapGenerator"]?.array() ?? [] {
            guard let name = generator["name"]?.text else { continue }
            for entry in generator["files"]?.array().compactMap(\.text) ?? [] {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                let path = parts.last!
                files[ConfigMapKey(configMap: name, key: parts.count == 2 ? parts[0] : (path as NSString).lastPathComponent)] = DeployTree.resolve(path, from: kustomization)
            }
        }
        return files
    }

    /// Container paths of ConfigMap files as mounted in `container` (projected or plain ConfigMap volumes).
    static func mountedFiles(pod: Node, container: Node) -> [String: ConfigMapKey] {
        var volumes: [String: [ConfigMapKey: String]] = [:]
        for volume in pod["volumes"]?.array() ?? [] {
            guard let name = volume["name"]?.text else { continue }
            let sources = volume.at("projected", "sources")?.array().compactMap { $0["configMap"] } ?? [volume["configMap"]].compactMap { $0 }
            var items: [ConfigMapKey: String] = [:]
            for source in sources {
                guard let configMap = source["name"]?.text else { continue }
                for item in source["items"]?.array() ?? [] {
                    if let key = item["key"]?.text, let path = item["path"]?.text { items[ConfigMapKey(configMap: configMap, key: key)] = path }
                }
            }
            volumes[name] = items
        }
        var files: [String: ConfigMapKey] = [:]
        for mount in container["volumeMounts"]?.array() ?? [] {
            guard let name = mount["name"]?.text, let path = mount["mountPath"]?.text else { continue }
            for (key, relative) in volumes[name] ?? [:] { files["\(path)/\(relative)"] = key }
        }
        return files
    }

    /// Images of the base containers and of containers an overlay's patches add.
    static func allImages(base: [Node], overlay: String) throws -> [String] {
        var images = base.flatMap { $0.at("spec", "template", "spec", "containers")?.array() ?? [] }.compactMap { $0["image"]?.text }
        for patch in try DeployTree.document(overlay)["patches"]?.array() ?? [] {
            guard let file = patch["path"]?.text else { continue }
            for document in try DeployTree.documents(DeployTree.resolve(file, from: overlay)) {
                images += document.array().compactMap { $0.at("value", "image")?.text }
            }
        }
        return images
    }

    /// A strategic-merge patch of the BFF Deployments: it must patch the existing `bff` container
    /// (another name would add a container without an image), set cpu and memory, and leave the
    /// grace period longer than the patched pre-drain plus drain.
    static func checkDeploymentPatch(_ patch: Node, file: String, overlay: String, on deployments: [Node]) throws {
        for container in patch.at("spec", "template", "spec", "containers")?.array() ?? [] {
            #expect(container["name"]?.text == "bff", "\(overlay): \(file) patches container \(container["name"]?.text ?? "?"), the BFF container is named bff")
            if let resources = container["resources"] {
                for kind in ["requests", "limits"] {
                    let set = labels(resources[kind])
                    #expect(set["memory"] != nil && set["cpu"] != nil, "\(overlay): \(file) should set cpu and memory \(kind)")
                }
            }
            let patched = environment(container)
            for deployment in deployments {
                let name = try #require(deployment.at("metadata", "name")?.text)
                let client = String(name.dropLast("-bff".count))
                let original = try #require(deployment.at("spec", "template", "spec", "containers")?.array().first { $0["name"]?.text == "bff" })
                let merged = environment(original).merging(patched) { $1 }
                let options = try DeployTree.serverOptions(spec: try DeployTree.loadedSpec(client: client, variant: "cluster"), environment: merged)
                let grace = patch.at("spec", "template", "spec", "terminationGracePeriodSeconds")?.int ?? deployment.at("spec", "template", "spec", "terminationGracePeriodSeconds")?.int ?? 30
                #expect(Double(grace) > seconds(options.preDrain + options.drainTimeout), "\(overlay): \(name) would be killed before its drain ends")
            }
        }
    }

    static func isResource(_ node: Node, _ kind: String, _ name: String) -> Bool {
        node["kind"]?.text == kind && node.at("metadata", "name")?.text == name
    }

    static func labels(_ node: Node?) -> [String: String] {
        Dictionary(node?.members.compactMap { key, value in value.text.map { (key, $0) } } ?? [], uniquingKeysWith: { $1 })
    }

    /// Whether a selector (matchLabels) is non-empty and matches these labels.
    static func selects(_ selector: Node?, _ labels: [String: String]) -> Bool {
        let wanted = Self.labels(selector)
        return !wanted.isEmpty && wanted.allSatisfy { labels[$0.key] == $0.value }
    }

    /// A container's environment; variables from Secrets or fields count as set, with an empty value.
    static func environment(_ container: Node) -> [String: String] {
        var environment: [String: String] = [:]
        for variable in container["env"]?.array() ?? [] {
            if let name = variable["name"]?.text { environment[name] = variable["value"]?.text ?? "" }
        }
        return environment
    }

    static func containerPorts(_ container: Node) -> [String: Int] {
        var ports: [String: Int] = [:]
        for port in container["ports"]?.array() ?? [] {
            if let number = port["containerPort"]?.int { ports[port["name"]?.text ?? String(number)] = number }
        }
        return ports
    }

    /// A port reference (number or container port name) as a number.
    static func port(_ reference: Node?, in ports: [String: Int]) -> Int? {
        guard let text = reference?.text else { return nil }
        return Int(text) ?? ports[text]
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Compose `environment:`, as a mapping or a list of NAME=value.
    static func composeEnvironment(_ service: Node) -> [String: String] {
        guard let node = service["environment"] else { return [:] }
        if let list = node.sequence {
            return Dictionary(list.compactMap(\.text).map { line in
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts.count == 2 ? parts[1] : "")
            }, uniquingKeysWith: { $1 })
        }
        return labels(node)
    }

    /// Container ports a compose service publishes (`"8081:8081"`, `"127.0.0.1:8081:8081"`, `8081`).
    static func publishedPorts(_ service: Node?) -> Set<Int> {
        var ports: Set<Int> = []
        for entry in service?["ports"]?.array() ?? [] {
            if let target = entry["target"]?.int {
                ports.insert(target)
            } else if let short = entry.text, let container = short.split(separator: "/")[0].split(separator: ":").last, let port = Int(container) {
                ports.insert(port)
            }
        }
        return ports
    }

    /// `host:port` targets of deploy/prometheus.yml, checking compose mounts that file.
    static func prometheusTargets(_ services: Node) throws -> Set<String> {
        let prometheus = try #require(services["prometheus"], "\(composePath) runs no Prometheus")
        let mount = prometheus["volumes"]?.array().compactMap(\.text).first { $0.hasSuffix("/etc/prometheus/prometheus.yml:ro") || $0.hasSuffix("/etc/prometheus/prometheus.yml") }
        let source = try #require(mount.map { DeployTree.resolve(String($0.split(separator: ":")[0]), from: composePath) }, "Prometheus in \(composePath) does not mount its configuration")
        let configuration = try DeployTree.document(source)
        let jobs = configuration["scrape_configs"]?.array() ?? []
        return Set(jobs.filter { ($0["metrics_path"]?.text ?? "/metrics") == "/metrics" }.flatMap { $0["static_configs"]?.array() ?? [] }.flatMap { $0["targets"]?.array().compactMap(\.text) ?? [] })
    }

    /// A systemd unit's [Service] settings, each key with its values in order.
    static func unitSettings(_ path: String) throws -> [String: [String]] {
        var settings: [String: [String]] = [:]
        var section = ""
        for raw in try DeployTree.text(path).split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("[") { section = line; continue }
            guard section == "[Service]", let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }

    /// NAME=value lines of an EnvironmentFile (comments skipped).
    static func environmentFile(_ path: String) throws -> [String: String] {
        var environment: [String: String] = [:]
        for raw in try DeployTree.text(path).split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return environment
    }

    /// A partner spec whose services point at `upstream` and whose keys come from BFF_PARTNER_KEYS.
    static func minimalPartnerSpec(upstream: StubUpstream) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-health-\(UUID().uuidString).yaml").path
        try """
        name: partner
        services:
          products: { url: "\(upstream.url)" }
          inventory: { url: "\(upstream.url)" }
        auth:
          api_keys: { env: BFF_PARTNER_KEYS }
        endpoints:
          - route: GET /v1/items
            auth: api_key
            proxy: { service: products, path: /items }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs deploy/healthcheck.sh with bash, as the image's HEALTHCHECK does.
    static func healthcheck(_ arguments: [String] = [], environment: [String: String]? = nil) async throws -> (status: Int32, output: String, errors: String) {
        try await ExecutableTests.run(
            URL(fileURLWithPath: "/bin/bash"),
            [DeployTree.url("deploy/healthcheck.sh").path] + arguments,
            environment: (environment ?? [:]).merging(["PATH": "/usr/bin:/bin"]) { $1 }
        )
    }
}
