//! Copy routes: which destination vaults every completed backup in a source vault is copied to.
//! Configured as JSON (env var `COPY_ROUTES`) and validated once at cold start.

use std::collections::HashSet;

use serde::Deserialize;

use super::{BackupVaultArn, DomainError, Lifecycle, ResourceType, VaultName};

/// One route: backups completed in `source_vault` are copied to `destination_vault`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRoute {
    pub source_vault: VaultName,
    pub destination_vault: BackupVaultArn,
    pub lifecycle: Option<Lifecycle>,
    /// Resource types (e.g. "EBS", "RDS") this route applies to; empty means all.
    pub resource_types: Vec<ResourceType>,
}

impl CopyRoute {
    pub fn applies_to(&self, vault: &VaultName, resource_type: Option<&ResourceType>) -> bool {
        if &self.source_vault != vault {
            return false;
        }
        match resource_type {
            _ if self.resource_types.is_empty() => true,
            // Known types are told apart as parsed; one AWS added since by its name, in any case.
            Some(kind) => self.resource_types.iter().any(|wanted| wanted.as_str().eq_ignore_ascii_case(kind.as_str())),
            // A filtered route never copies a backup whose resource type is unknown.
            None => false,
        }
    }
}

/// Wire form of a route in `COPY_ROUTES`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RouteConfig {
    source_vault: String,
    destination_vault_arn: String,
    #[serde(default)]
    lifecycle: Option<Lifecycle>,
    #[serde(default)]
    resource_types: Vec<ResourceType>,
}

/// All configured routes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteTable {
    routes: Vec<CopyRoute>,
}

impl RouteTable {
    pub fn new(routes: Vec<CopyRoute>) -> Self {
        Self { routes }
    }

    /// Parses and validates `COPY_ROUTES`. Every problem is reported with the route's position.
    pub fn from_json(json: &str) -> Result<Self, DomainError> {
        let configs: Vec<RouteConfig> = serde_json::from_str(json)
            .map_err(|err| DomainError::invalid("COPY_ROUTES", format!("is not a JSON list of routes: {err}")))?;
        let mut seen = HashSet::new();
        let mut routes = Vec::with_capacity(configs.len());
        for (index, config) in configs.into_iter().enumerate() {
            let at = |err: DomainError| DomainError::invalid("COPY_ROUTES", format!("route {index}: {err}"));
            let source_vault = VaultName::parse(&config.source_vault).map_err(at)?;
            let destination_vault = BackupVaultArn::parse(&config.destination_vault_arn).map_err(at)?;
            let lifecycle = config.lifecycle.map(Lifecycle::validate).transpose().map_err(at)?;
            if !seen.insert((source_vault.clone(), destination_vault.clone())) {
                return Err(at(DomainError::invalid("route", "repeats an earlier source and destination")));
            }
            routes.push(CopyRoute {
                source_vault,
                destination_vault,
                lifecycle: lifecycle.filter(|l| !l.is_empty()),
                resource_types: config.resource_types,
            });
        }
        Ok(Self { routes })
    }

    pub fn routes_for<'a>(
        &'a self,
        vault: &'a VaultName,
        resource_type: Option<&'a ResourceType>,
    ) -> impl Iterator<Item = &'a CopyRoute> + 'a {
        self.routes.iter().filter(move |route| route.applies_to(vault, resource_type))
    }

    /// The vaults that have at least one route.
    /// Every route's destination vault.
    pub fn destinations(&self) -> impl Iterator<Item = &BackupVaultArn> {
        self.routes.iter().map(|route| &route.destination_vault)
    }

    pub fn source_vaults(&self) -> impl Iterator<Item = &VaultName> {
        let mut seen = std::collections::HashSet::new();
        self.routes.iter().map(|route| &route.source_vault).filter(move |vault| seen.insert(*vault))
    }

    /// Every route, in the configured order.
    pub fn iter(&self) -> impl Iterator<Item = &CopyRoute> {
        self.routes.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DR: &str = "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-copy";

    #[test]
    fn routes_parse_and_filter_by_vault_and_resource_type() {
        let json = format!(
            r#"[{{"sourceVault":"primary","destinationVaultArn":"{DR}","lifecycle":{{"moveToColdStorageAfterDays":30,"deleteAfterDays":365}}}},
                {{"sourceVault":"primary","destinationVaultArn":"arn:aws:backup:eu-west-1:123456789012:backup-vault:eu","resourceTypes":["RDS"]}}]"#
        );
        let table = RouteTable::from_json(&json).unwrap();
        let primary = VaultName::parse("primary").unwrap();
        let kind = ResourceType::parse;
        assert_eq!(table.routes_for(&primary, Some(&kind("EBS"))).count(), 1);
        assert_eq!(table.routes_for(&primary, Some(&kind("rds"))).count(), 2);
        assert_eq!(table.routes_for(&primary, None).count(), 1);
        assert_eq!(table.routes_for(&VaultName::parse("other").unwrap(), Some(&kind("EBS"))).count(), 0);
        // A type AWS added after this version is matched by its name, in any case.
        let newer = json.replace(r#"["RDS"]"#, r#"["Lightsail"]"#);
        let table = RouteTable::from_json(&newer).unwrap();
        assert_eq!(table.routes_for(&primary, Some(&kind("LIGHTSAIL"))).count(), 2);
    }

    #[test]
    fn invalid_routes_are_rejected_with_their_position() {
        let bad_lifecycle = format!(
            r#"[{{"sourceVault":"primary","destinationVaultArn":"{DR}","lifecycle":{{"moveToColdStorageAfterDays":30,"deleteAfterDays":100}}}}]"#
        );
        let err = RouteTable::from_json(&bad_lifecycle).unwrap_err().to_string();
        assert!(err.contains("route 0") && err.contains("+ 90"), "{err}");

        let bad_arn = r#"[{"sourceVault":"primary","destinationVaultArn":"dr-copy"}]"#;
        assert!(RouteTable::from_json(bad_arn).unwrap_err().to_string().contains("backup vault ARN"));

        let duplicate = format!(
            r#"[{{"sourceVault":"primary","destinationVaultArn":"{DR}"}},{{"sourceVault":"primary","destinationVaultArn":"{DR}"}}]"#
        );
        assert!(RouteTable::from_json(&duplicate).unwrap_err().to_string().contains("route 1"));

        let unknown_field = format!(r#"[{{"sourceVault":"primary","destinationVaultArn":"{DR}","lifecycel":{{}}}}]"#);
        assert!(RouteTable::from_json(&unknown_field).is_err());
        assert!(RouteTable::from_json("{}").is_err());
    }
}
