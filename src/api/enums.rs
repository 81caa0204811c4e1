//! The domain values, each defined once: the CRD schema lists them, `decide`
//! compares them, the simulator offers them. Aura's answers stay text (a
//! tolerant reader), read through `parse`, which ignores letter case and
//! answers `None` for a value this build does not know.

use std::fmt;

macro_rules! domain_enum {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in the order the schema lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word in manifests and in the Aura API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The other words a manifest (and Aura) may use for the value.
            pub fn aliases(self) -> &'static [&'static str] {
                match self {
                    $($name::$variant => &[$($alias),*],)+
                }
            }

            /// Reads a value as Aura or a person writes it, in any letter
            /// case, under its word or an alias.
            pub fn parse(text: &str) -> Option<Self> {
                let text = text.trim();
                Self::ALL.iter().copied().find(|v| {
                    v.as_str().eq_ignore_ascii_case(text)
                        || v.aliases().iter().any(|a| a.eq_ignore_ascii_case(text))
                })
            }

            /// Whether Aura's text names this value.
            pub fn is(self, text: &str) -> bool {
                Self::parse(text) == Some(self)
            }

            /// Every word a manifest may give for the value: its own, then
            /// its aliases.
            pub fn spellings(self) -> Vec<&'static str> {
                std::iter::once(self.as_str())
                    .chain(self.aliases().iter().copied())
                    .collect()
            }

            /// Every word, aliases after the value's own, for schemas and messages.
            pub fn words() -> Vec<&'static str> {
                Self::ALL.iter().flat_map(|v| v.spellings()).collect()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                // Admission allows only these words; exact, as the schema says.
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text || v.aliases().contains(&text.as_ref()))
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "{:?} is not one of {}",
                            text,
                            Self::words().join(", ")
                        ))
                    })
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "enum": Self::words(),
                })
            }
        }
    };
}

domain_enum! {
    /// The cloud that hosts an instance.
    CloudProvider {
        Gcp = "gcp",
        Aws = "aws",
        Azure = "azure",
    }
}

domain_enum! {
    /// The Aura instance type, under its Aura API v1 name or its tier name
    /// (v2, what the console and the CLI say; see [`InstanceType::v2_tier`]).
    InstanceType {
        /// Virtual Dedicated Cloud.
        EnterpriseDb = "enterprise-db" | "virtual-dedicated-cloud",
        EnterpriseDs = "enterprise-ds",
        BusinessCritical = "business-critical",
        ProfessionalDb = "professional-db" | "professional",
        ProfessionalDs = "professional-ds",
        FreeDb = "free-db" | "free",
    }
}

impl InstanceType {
    /// The one change of type Aura makes in place (`POST .../upgrade`).
    pub fn upgrades_to(self, to: InstanceType) -> bool {
        self == InstanceType::ProfessionalDb && to == InstanceType::BusinessCritical
    }

    /// The tier's name in Aura API v2beta1's create (`None`: AuraDS types,
    /// which it no longer offers). Its answers still say the v1 name.
    pub fn v2_tier(self) -> Option<&'static str> {
        match self {
            InstanceType::FreeDb => Some("free"),
            InstanceType::ProfessionalDb => Some("professional"),
            InstanceType::BusinessCritical => Some("business-critical"),
            InstanceType::EnterpriseDb => Some("virtual-dedicated-cloud"),
            InstanceType::ProfessionalDs | InstanceType::EnterpriseDs => None,
        }
    }

    /// An AuraDS type: Aura no longer offers new ones. The replacement is
    /// named in the warning admission gives (`aurads_warning`).
    pub fn is_aurads(self) -> bool {
        matches!(
            self,
            InstanceType::ProfessionalDs | InstanceType::EnterpriseDs
        )
    }

    /// Whether an instance of the type can hold several databases.
    pub fn offers_multi_database(self) -> bool {
        matches!(
            self,
            InstanceType::BusinessCritical | InstanceType::EnterpriseDb
        )
    }

    /// Whether the tier's databases have role-based access control (roles
    /// can be granted): Business Critical and Virtual Dedicated Cloud. On
    /// the others every user has full rights.
    pub fn has_role_based_access(self) -> bool {
        matches!(
            self,
            InstanceType::EnterpriseDb
                | InstanceType::EnterpriseDs
                | InstanceType::BusinessCritical
        )
    }
}

domain_enum! {
    /// The Neo4j major version.
    AuraVersion {
        V4 = "4",
        V5 = "5",
    }
}

domain_enum! {
    /// The memory sizes Aura offers; the tenant's catalogue narrows them per
    /// region and type.
    MemorySize {
        Gb1 = "1GB",
        Gb2 = "2GB",
        Gb4 = "4GB",
        Gb8 = "8GB",
        Gb16 = "16GB",
        Gb24 = "24GB",
        Gb32 = "32GB",
        Gb48 = "48GB",
        Gb64 = "64GB",
        Gb128 = "128GB",
        Gb192 = "192GB",
        Gb256 = "256GB",
        Gb384 = "384GB",
        Gb512 = "512GB",
    }
}

impl MemorySize {
    /// The size in gigabytes.
    pub fn gigabytes(self) -> u32 {
        self.as_str()
            .trim_end_matches("GB")
            .parse()
            .expect("every memory size is a number of GB")
    }
}

domain_enum! {
    /// The change-data-capture enrichment mode of an instance: Off, Diff or
    /// Full (Aura writes them OFF, DIFF, FULL).
    CdcMode {
        Off = "Off",
        Diff = "Diff",
        Full = "Full",
    }
}

impl CdcMode {
    /// The word Aura sends and takes.
    pub fn aura_word(self) -> &'static str {
        match self {
            CdcMode::Off => "OFF",
            CdcMode::Diff => "DIFF",
            CdcMode::Full => "FULL",
        }
    }
}

domain_enum! {
    /// A snapshot's status, as Aura writes it (capitalised).
    SnapshotStatus {
        Pending = "Pending",
        InProgress = "InProgress",
        Completed = "Completed",
        Failed = "Failed",
        Cancelled = "Cancelled",
    }
}

domain_enum! {
    /// A person's role in an Aura project, in the words of the project
    /// member calls (`project-*`). An invite names the same roles in
    /// another vocabulary ([`ProjectRole::invite_word`]).
    ProjectRole {
        Admin = "project-admin",
        Member = "project-member",
        Viewer = "project-viewer",
        MetricsIntegrationReader = "project-metrics-integration-reader",
    }
}

impl ProjectRole {
    /// The role in an invite's `project_invites` (`namespace-*`).
    pub fn invite_word(self) -> &'static str {
        match self {
            ProjectRole::Admin => "namespace-admin",
            ProjectRole::Member => "namespace-member",
            ProjectRole::Viewer => "namespace-viewer",
            ProjectRole::MetricsIntegrationReader => "namespace-metrics-integration-reader",
        }
    }

    /// A role Aura reports in either vocabulary (`project-*` or `namespace-*`).
    pub fn read(text: &str) -> Option<Self> {
        Self::parse(text).or_else(|| {
            let text = text.trim();
            Self::ALL
                .iter()
                .copied()
                .find(|r| r.invite_word().eq_ignore_ascii_case(text))
        })
    }
}

domain_enum! {
    /// A person's role in an Aura organization (`organization-*`, the same
    /// words in invites and in the member calls).
    OrganizationRole {
        Owner = "organization-owner",
        Admin = "organization-admin",
        Member = "organization-member",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_from_its_word_in_any_case() {
        fn check<T: Copy + PartialEq + fmt::Debug>(
            all: &[T],
            word: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for &v in all {
                assert_eq!(parse(word(v)), Some(v));
                assert_eq!(parse(&word(v).to_uppercase()), Some(v));
                assert_eq!(parse(&format!(" {} ", word(v).to_lowercase())), Some(v));
            }
            assert_eq!(parse("no-such-value"), None);
        }
        check(
            CloudProvider::ALL,
            CloudProvider::as_str,
            CloudProvider::parse,
        );
        check(InstanceType::ALL, InstanceType::as_str, InstanceType::parse);
        check(AuraVersion::ALL, AuraVersion::as_str, AuraVersion::parse);
        check(MemorySize::ALL, MemorySize::as_str, MemorySize::parse);
        check(CdcMode::ALL, CdcMode::as_str, CdcMode::parse);
        check(
            SnapshotStatus::ALL,
            SnapshotStatus::as_str,
            SnapshotStatus::parse,
        );
    }

    #[test]
    fn manifests_take_the_exact_word_only() {
        let read = |v: &str| serde_json::from_value::<InstanceType>(serde_json::json!(v));
        assert_eq!(
            read("business-critical").unwrap(),
            InstanceType::BusinessCritical
        );
        let refused = read("Business-Critical").unwrap_err().to_string();
        assert!(
            refused.contains("enterprise-db, virtual-dedicated-cloud, enterprise-ds"),
            "{refused}"
        );
        assert_eq!(
            serde_json::to_value(MemorySize::Gb16).unwrap(),
            serde_json::json!("16GB")
        );
    }

    #[test]
    fn the_schema_lists_the_words() {
        let schema = schemars::schema_for!(CloudProvider);
        let value = serde_json::to_value(&schema).unwrap();
        assert_eq!(value["type"], "string");
        assert_eq!(value["enum"], serde_json::json!(["gcp", "aws", "azure"]));
    }

    #[test]
    fn memory_sizes_grow_and_only_professional_db_upgrades() {
        let gb: Vec<u32> = MemorySize::ALL.iter().map(|m| m.gigabytes()).collect();
        assert!(gb.windows(2).all(|w| w[0] < w[1]), "{gb:?}");
        for &from in InstanceType::ALL {
            for &to in InstanceType::ALL {
                let expected =
                    from == InstanceType::ProfessionalDb && to == InstanceType::BusinessCritical;
                assert_eq!(from.upgrades_to(to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn the_three_role_vocabularies_translate() {
        // (role, member-call word, invite word)
        let table = [
            (ProjectRole::Admin, "project-admin", "namespace-admin"),
            (ProjectRole::Member, "project-member", "namespace-member"),
            (ProjectRole::Viewer, "project-viewer", "namespace-viewer"),
            (
                ProjectRole::MetricsIntegrationReader,
                "project-metrics-integration-reader",
                "namespace-metrics-integration-reader",
            ),
        ];
        for (role, word, invite) in table {
            assert_eq!(role.as_str(), word);
            assert_eq!(role.invite_word(), invite);
            assert_eq!(ProjectRole::read(word), Some(role));
            assert_eq!(ProjectRole::read(invite), Some(role));
            assert_eq!(ProjectRole::read(&invite.to_uppercase()), Some(role));
            // The member calls take only their own words.
            assert_eq!(ProjectRole::parse(invite), None);
        }
        assert_eq!(ProjectRole::read("organization-admin"), None);
        assert_eq!(ProjectRole::read("admin"), None);
        let orgs = [
            (OrganizationRole::Owner, "organization-owner"),
            (OrganizationRole::Admin, "organization-admin"),
            (OrganizationRole::Member, "organization-member"),
        ];
        for (role, word) in orgs {
            assert_eq!(OrganizationRole::parse(word), Some(role));
            assert_eq!(ProjectRole::read(word), None);
        }
        assert_eq!(OrganizationRole::parse("project-admin"), None);
    }

    #[test]
    fn v2beta1_tier_names_map_from_the_v1_types() {
        let table = [
            (InstanceType::FreeDb, Some("free"), false),
            (InstanceType::ProfessionalDb, Some("professional"), false),
            (
                InstanceType::BusinessCritical,
                Some("business-critical"),
                true,
            ),
            (
                InstanceType::EnterpriseDb,
                Some("virtual-dedicated-cloud"),
                true,
            ),
            (InstanceType::ProfessionalDs, None, false),
            (InstanceType::EnterpriseDs, None, false),
        ];
        for (t, tier, multi) in table {
            assert_eq!(t.v2_tier(), tier, "{t}");
            assert_eq!(t.offers_multi_database(), multi, "{t}");
            assert_eq!(t.is_aurads(), tier.is_none(), "{t}");
        }
    }

    #[test]
    fn a_type_reads_from_its_v1_name_and_its_tier_name_and_writes_its_v1_name() {
        let table = [
            ("free-db", InstanceType::FreeDb),
            ("free", InstanceType::FreeDb),
            ("professional-db", InstanceType::ProfessionalDb),
            ("professional", InstanceType::ProfessionalDb),
            ("business-critical", InstanceType::BusinessCritical),
            ("enterprise-db", InstanceType::EnterpriseDb),
            ("virtual-dedicated-cloud", InstanceType::EnterpriseDb),
            ("professional-ds", InstanceType::ProfessionalDs),
            ("enterprise-ds", InstanceType::EnterpriseDs),
        ];
        for (word, t) in table {
            let read: InstanceType = serde_json::from_value(serde_json::json!(word)).unwrap();
            assert_eq!(read, t, "{word}");
            assert_eq!(InstanceType::parse(&word.to_uppercase()), Some(t), "{word}");
            assert_eq!(serde_json::to_value(read).unwrap(), t.as_str(), "{word}");
            assert!(t.spellings().contains(&word), "{word}");
        }
        // The schema accepts exactly the words of the table, and each tier
        // name is the alias of its type.
        let mut words = InstanceType::words();
        words.sort_unstable();
        let mut expected: Vec<&str> = table.iter().map(|(w, _)| *w).collect();
        expected.sort_unstable();
        assert_eq!(words, expected);
        for t in InstanceType::ALL {
            let tier = t.v2_tier().unwrap_or(t.as_str());
            assert_eq!(t.spellings().last(), Some(&tier), "{t}");
        }
        assert!(
            serde_json::from_value::<InstanceType>(serde_json::json!("professional-DB")).is_err()
        );
        assert!(serde_json::from_value::<InstanceType>(serde_json::json!("enterprise")).is_err());
    }
}
