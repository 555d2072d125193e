//! `edgellm ca show`: print the LAN CA certificate and its fingerprint; `ca export` and
//! `ca import`: share one CA between boards.

use crate::config::CaCommand;
use crate::error::Error;

pub fn run(cmd: CaCommand) -> Result<(), Error> {
    match cmd {
        CaCommand::Show(args) => {
            let dir = edgellm_tls::LanCa::dir_in(&args.resolve()?);
            let ca = edgellm_tls::LanCa::load_or_create(&dir)?;
            let fingerprint = ca.fingerprint()?;
            print!("{}", ca.cert_pem());
            println!("SHA-256 fingerprint: {fingerprint}");
            Ok(())
        }
        CaCommand::Export { state, out } => {
            let dir = edgellm_tls::LanCa::dir_in(&state.resolve()?);
            let ca = edgellm_tls::LanCa::load_or_create(&dir)?;
            match out {
                None => print!("{}", ca.export_pem()),
                Some(path) => {
                    if path.exists() {
                        return Err(Error::Io {
                            path,
                            source: std::io::Error::new(
                                std::io::ErrorKind::AlreadyExists,
                                "exists; choose another file",
                            ),
                        });
                    }
                    edgellm_tls::write_private(&path, ca.export_pem().as_bytes())?;
                    eprintln!(
                        "wrote the CA and its private key to {} (keep it secret; import it with `edgellm ca import`)",
                        path.display()
                    );
                }
            }
            Ok(())
        }
        CaCommand::Import { file, state, force } => {
            let bundle = std::fs::read_to_string(&file).map_err(|source| Error::Io {
                path: file.clone(),
                source,
            })?;
            let dir = edgellm_tls::LanCa::dir_in(&state.resolve()?);
            let ca = edgellm_tls::LanCa::import(&dir, &bundle, force)?;
            println!(
                "imported the CA {} into {}; restart the daemon to use it",
                ca.fingerprint()?,
                dir.display()
            );
            Ok(())
        }
    }
}
