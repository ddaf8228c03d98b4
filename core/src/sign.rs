//! URL signing. (Being written: see issue 2.)
