//! Where COPY may write: local paths always; `s3://`, `az://`/`abfss://` and `gs://` when the
//! matching cargo feature (`s3`, `azure`, `gcs`) is compiled in. Cloud stores are configured
//! the object_store way, from the environment (AWS_*, AZURE_STORAGE_*, GOOGLE_*), so no
//! credential ever appears in SQL text or in the history file.

pub mod staging;

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use url::Url;

use crate::error::{Result, ShellError};

/// The cloud a destination URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Azure,
    Gcs,
}

impl Cloud {
    fn feature(self) -> &'static str {
        match self {
            Cloud::S3 => "s3",
            Cloud::Azure => "azure",
            Cloud::Gcs => "gcs",
        }
    }

    fn compiled_in(self) -> bool {
        match self {
            Cloud::S3 => cfg!(feature = "s3"),
            Cloud::Azure => cfg!(feature = "azure"),
            Cloud::Gcs => cfg!(feature = "gcs"),
        }
    }

    fn env_hint(self) -> &'static str {
        match self {
            Cloud::S3 => {
                "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (or an AWS profile / instance role)"
            }
            Cloud::Azure => {
                "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_KEY, or AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID)"
            }
            Cloud::Gcs => {
                "GOOGLE_SERVICE_ACCOUNT (path to a key file) or GOOGLE_APPLICATION_CREDENTIALS"
            }
        }
    }
}

/// Classifies a COPY target. `None` means a local path (or `file://` URL).
pub fn cloud_of(target: &str) -> Result<Option<Cloud>> {
    let Some((scheme, _)) = target.split_once("://") else {
        return Ok(None);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => Ok(None),
        "s3" | "s3a" => Ok(Some(Cloud::S3)),
        "az" | "azure" | "abfs" | "abfss" | "adl" => Ok(Some(Cloud::Azure)),
        "gs" | "gcs" => Ok(Some(Cloud::Gcs)),
        other => Err(ShellError::Destination(format!(
            "unsupported destination scheme '{other}://': use a local path, s3://, az://, abfss:// or gs://"
        ))),
    }
}

/// Fails with instructions when the destination's cloud support was not compiled in.
pub fn ensure_supported(target: &str) -> Result<Option<Cloud>> {
    let cloud = cloud_of(target)?;
    if let Some(cloud) = cloud
        && !cloud.compiled_in()
    {
        return Err(not_compiled_in(target, cloud));
    }
    Ok(cloud)
}

fn not_compiled_in(target: &str, cloud: Cloud) -> ShellError {
    ShellError::Destination(format!(
        "{target}: this teams-sql was built without {scheme} support; rebuild with \
         `cargo build --release -p teams-sql --features {feature}` and set {env}",
        scheme = target.split("://").next().unwrap_or_default(),
        feature = cloud.feature(),
        env = cloud.env_hint(),
    ))
}

/// Registers an object store for a cloud COPY target so DataFusion's own writers (Parquet,
/// CSV, JSON) can reach it. Delta destinations go through deltalake's own store handlers.
pub fn register_for_copy(ctx: &SessionContext, target: &str) -> Result<()> {
    if let Some((base, store)) = store_for(target)? {
        ctx.register_object_store(&base, store);
    }
    Ok(())
}

/// The object store a cloud URL needs, configured from the environment, with the base URL
/// (`scheme://bucket`) to register it under; `None` for a local path. Also used to read
/// `SELECT * FROM 's3://...'` URL tables.
pub fn store_for(target: &str) -> Result<Option<(Url, Arc<dyn object_store::ObjectStore>)>> {
    let Some(cloud) = ensure_supported(target)? else {
        return Ok(None);
    };
    let url = Url::parse(target)
        .map_err(|e| ShellError::Destination(format!("{target} is not a valid URL: {e}")))?;
    let store = build_store(cloud, &url)?;
    let base = Url::parse(&format!("{}://{}", url.scheme(), url.authority()))
        .map_err(|e| ShellError::Destination(format!("{target}: {e}")))?;
    Ok(Some((base, store)))
}

#[allow(unused_variables)]
fn build_store(cloud: Cloud, url: &Url) -> Result<Arc<dyn object_store::ObjectStore>> {
    let err = |e: object_store::Error| {
        ShellError::Destination(format!(
            "{url}: cannot configure the object store from the environment ({}): {e}",
            cloud.env_hint()
        ))
    };
    match cloud {
        #[cfg(feature = "s3")]
        Cloud::S3 => Ok(Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(err)?,
        )),
        #[cfg(feature = "azure")]
        Cloud::Azure => Ok(Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(err)?,
        )),
        #[cfg(feature = "gcs")]
        Cloud::Gcs => Ok(Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(err)?,
        )),
        #[allow(unreachable_patterns)]
        _ => Err(ShellError::Destination(format!(
            "{url}: built without the '{}' feature",
            cloud.feature()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_targets() {
        assert_eq!(cloud_of("./out/x").unwrap(), None);
        assert_eq!(cloud_of("file:///tmp/x").unwrap(), None);
        assert_eq!(cloud_of("s3://b/k").unwrap(), Some(Cloud::S3));
        assert_eq!(
            cloud_of("abfss://c@acct.dfs.core.windows.net/p").unwrap(),
            Some(Cloud::Azure)
        );
        assert_eq!(cloud_of("az://c/p").unwrap(), Some(Cloud::Azure));
        assert_eq!(cloud_of("gs://b/p").unwrap(), Some(Cloud::Gcs));
        assert!(cloud_of("ftp://x/y").is_err());
    }

    #[test]
    fn missing_cloud_support_says_how_to_get_it() {
        let err = not_compiled_in("s3://bucket/teams", Cloud::S3).to_string();
        assert!(err.contains("without s3 support"), "{err}");
        assert!(err.contains("--features s3"), "{err}");
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
        let err = not_compiled_in("abfss://c@a.dfs.core.windows.net/p", Cloud::Azure).to_string();
        assert!(err.contains("--features azure"), "{err}");
        assert_eq!(
            ensure_supported("s3://bucket/teams").is_ok(),
            cfg!(feature = "s3"),
            "s3:// is accepted exactly when the s3 feature is compiled in"
        );
    }
}
