"""Classical estimators (HMM, GPFA, NMF selection) with scikit-learn style APIs."""
