//! `edgellm key show`: print the API key the daemon generated on first start.

use crate::config::KeyCommand;
use crate::error::Error;

pub fn run(cmd: KeyCommand) -> Result<(), Error> {
    match cmd {
        KeyCommand::Show(args) => {
            let path = crate::serve::keys::key_file(&args.resolve()?);
            match std::fs::read_to_string(&path) {
                Ok(key) if !key.trim().is_empty() => {
                    println!("{}", key.trim());
                    Ok(())
                }
                Ok(_) => Err(Error::Key(format!("{} is empty", path.display()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Key(format!(
                    "no generated API key at {}: the daemon creates one on its first start when it listens beyond loopback without --api-key-file",
                    path.display()
                ))),
                Err(source) => Err(Error::Io { path, source }),
            }
        }
    }
}
