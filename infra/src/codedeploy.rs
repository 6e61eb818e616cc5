//! codedeploy adapter (in progress).
