import FerryModel

/// A plan that parsed and validated: what to store.
public struct AcceptedPlan: Sendable, Equatable {
    public var document: PlanDocument
    public var migrations: [PlannedMigration]
}

/// Parse then validate, the one path for submit and dry run: every problem of both steps at once.
public enum PlanIntake {
    public static func check(
        _ text: String, file: String, hosts: [HypervisorHost], activeMigrations: [Migration]
    ) -> Result<AcceptedPlan, PlanInvalid> {
        let (document, parseProblems) = PlanParser.parse(text, file: file)
        guard let document else { return .failure(PlanInvalid(parseProblems)) }
        switch PlanValidator.validate(document, file: file, hosts: hosts, activeMigrations: activeMigrations) {
        case .success(let planned):
            guard parseProblems.isEmpty else { return .failure(PlanInvalid(parseProblems)) }
            return .success(AcceptedPlan(document: document, migrations: planned))
        case .failure(let invalid):
            // "resolves to no migrations" is only noise when entries were dropped for parse problems.
            let semantic =
                parseProblems.isEmpty ? invalid.problems : invalid.problems.filter { $0.field != "migrations" }
            return .failure(PlanInvalid(parseProblems + semantic))
        }
    }
}
