//! A typed rollout request: set what you need, `build()` validates it exactly as the worker will.

use greenfleet_core::request::{
    ApprovalMode, BundleType, FieldProblem, GitHubRevision, HealthCheck, RequestError, Revision, RolloutRequest,
    RolloutRequestDoc, S3Revision, SCHEMA_VERSION, Strategy, TagDoc, Timeouts,
};

/// The tag key [`RequestBuilder::version_tag`] sets on green instances.
pub const VERSION_TAG_KEY: &str = "version";

/// Builds a [`RolloutRequest`]. Nothing is checked until [`RequestBuilder::build`], which reports
/// every problem at once.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    doc: RolloutRequestDoc,
    revision: Option<Revision>,
}

impl RequestBuilder {
    /// A request `request_id` (the idempotency key: publishing it twice starts one rollout) to replace
    /// the instances of Elastigroup `elastigroup_id` through CodeDeploy `application` / `deployment_group`.
    #[must_use]
    pub fn new(request_id: &str, elastigroup_id: &str, application: &str, deployment_group: &str) -> Self {
        Self {
            doc: RolloutRequestDoc {
                schema_version: SCHEMA_VERSION,
                request_id: request_id.to_owned(),
                elastigroup_id: elastigroup_id.to_owned(),
                application: application.to_owned(),
                deployment_group: deployment_group.to_owned(),
                strategy: Strategy::BlueGreen,
                // Placeholder until a revision is set; `build` refuses a request without one.
                revision: Revision::GitHub(GitHubRevision { repository: String::new(), commit_id: String::new() }),
                green_tags: Vec::new(),
                timeouts: Timeouts::default(),
                health_check: None,
                approval: ApprovalMode::Auto,
                requested_by: String::new(),
            },
            revision: None,
        }
    }

    /// Deploys the bundle `s3://bucket/key`.
    #[must_use]
    pub fn s3_revision(mut self, bucket: &str, key: &str, bundle_type: BundleType) -> Self {
        self.revision = Some(Revision::S3(S3Revision {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            bundle_type,
            version: None,
            e_tag: None,
        }));
        self
    }

    /// Pins the S3 object's version and/or ETag (after [`Self::s3_revision`]; ignored for GitHub).
    #[must_use]
    pub fn s3_object(mut self, version: Option<&str>, e_tag: Option<&str>) -> Self {
        if let Some(Revision::S3(s)) = &mut self.revision {
            s.version = version.map(str::to_owned);
            s.e_tag = e_tag.map(str::to_owned);
        }
        self
    }

    /// Deploys commit `commit_id` of GitHub repository `owner/name`.
    #[must_use]
    pub fn github_revision(mut self, repository: &str, commit_id: &str) -> Self {
        self.revision = Some(Revision::GitHub(GitHubRevision {
            repository: repository.to_owned(),
            commit_id: commit_id.to_owned(),
        }));
        self
    }

    /// Adds a tag for the green instances (greenfleet always adds `greenfleet:rollout=<id>` itself).
    #[must_use]
    pub fn green_tag(mut self, key: &str, value: &str) -> Self {
        self.doc.green_tags.push(TagDoc { key: key.to_owned(), value: value.to_owned() });
        self
    }

    /// Tags the green instances `version=<version>`.
    #[must_use]
    pub fn version_tag(self, version: &str) -> Self {
        self.green_tag(VERSION_TAG_KEY, version)
    }

    /// Deadlines of the waits (defaults: 15, 60, 60 and 30 minutes).
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.doc.timeouts = timeouts;
        self
    }

    /// An HTTP check against each green instance before traffic moves.
    #[must_use]
    pub fn health_check(mut self, check: HealthCheck) -> Self {
        self.doc.health_check = Some(check);
        self
    }

    /// Waits at READY for `greenfleet approve` instead of moving traffic at once.
    #[must_use]
    pub fn manual_approval(mut self) -> Self {
        self.doc.approval = ApprovalMode::Manual;
        self
    }

    /// Who asks, for the audit trail (required).
    #[must_use]
    pub fn requested_by(mut self, who: &str) -> Self {
        who.clone_into(&mut self.doc.requested_by);
        self
    }

    /// Validates the request as greenfleet's worker will; `Err` lists every problem by field.
    pub fn build(self) -> Result<RolloutRequest, RequestError> {
        let Some(revision) = self.revision else {
            let mut problems = vec![FieldProblem {
                field: "revision".into(),
                message: "is missing; set one with `s3_revision(..)` or `github_revision(..)`".into(),
            }];
            // Report the other problems too.
            let mut doc = self.doc;
            doc.revision = Revision::GitHub(GitHubRevision { repository: "o/n".into(), commit_id: "0".repeat(40) });
            let request_id = Some(doc.request_id.clone());
            if let Err(e) = RolloutRequest::validate(doc) {
                problems.extend(e.problems);
            }
            return Err(RequestError { request_id, problems });
        };
        let mut doc = self.doc;
        doc.revision = revision;
        RolloutRequest::validate(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RequestBuilder {
        RequestBuilder::new("shop-6.0", "sig-1234abcd", "shop", "shop-bg")
            .s3_revision("releases", "shop/6.0.zip", BundleType::Zip)
            .version_tag("6.0")
            .requested_by("ci@example.com")
    }

    #[test]
    fn a_complete_request_builds_like_the_readme_example() {
        let built = good().build().expect("valid");
        let example = greenfleet_core::request::parse_request(include_bytes!("../../examples/request.json"))
            .expect("the README example is valid");
        assert_eq!(built, example);
    }

    #[test]
    fn every_problem_is_named_by_field() {
        let e = RequestBuilder::new("bad id!", "sg-1", "shop", "").build().expect_err("refused");
        let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["revision", "requestId", "elastigroupId", "deploymentGroup", "requestedBy"]);
        assert!(e.to_string().contains("`revision`: is missing"), "{e}");
    }

    #[test]
    fn the_worker_s_rules_apply() {
        let e = good()
            .green_tag("greenfleet:rollout", "x")
            .timeouts(Timeouts { deployment_minutes: 0, ..Timeouts::default() })
            .github_revision("noslash", "abc1234")
            .build()
            .expect_err("refused");
        let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["revision.github.repository", "revision.github.commitId", "greenTags[1]", "timeouts.deploymentMinutes"]
        );
        assert!(e.to_string().contains("`abc1234` is not a full commit SHA"), "{e}");
        let sha = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
        let ok = good().github_revision("acme/shop", sha).manual_approval().build().expect("valid");
        assert_eq!(ok.approval, ApprovalMode::Manual);
    }

    #[test]
    fn control_characters_are_refused_as_in_a_document() {
        let e = good().green_tag("build", "6.0\n").requested_by("ci\u{7f}").build().expect_err("refused");
        let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["requestedBy", "greenTags[1].value"]);
        assert!(e.to_string().contains("U+000A"), "{e}");
    }
}
